"""Inline SVG bar charts, drawn in Python so the page needs no script to show its numbers.

Every label is escaped (rule codes and summaries come from the service, i.e. from outside).
Bars carry ``data-severity`` / ``data-rule`` so the page's script can turn a click into a
table filter; without the script they are still a complete, readable chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

SEVERITY_COLOURS: dict[str, str] = {
    "CRITICAL": "#c62828",
    "MAJOR": "#ef6c00",
    "MINOR": "#f2b705",
    "INFO": "#8a939b",
}
OTHER_COLOUR = "#5c6bc0"
RULE_COLOUR = "#34598a"

_WIDTH = 560
_LABEL_W = 96
_COUNT_W = 64


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    colour: str
    note: str = ""
    """A second, smaller line under the bar (a rule's summary)."""
    data: tuple[str, str] | None = None
    """(attribute suffix, value) for the script: ("severity", "CRITICAL")."""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def bar_chart(bars: list[Bar], *, title: str, empty_text: str, width: int = _WIDTH) -> str:
    """A horizontal bar chart scaled to the largest value; one ``<g>`` per bar."""
    if not bars or not any(b.value for b in bars):
        return f'<p class="chart-empty">{escape(empty_text)}</p>'
    row_h = 40 if any(b.note for b in bars) else 30
    height = row_h * len(bars) + 4
    top = max(b.value for b in bars)
    span = width - _LABEL_W - _COUNT_W
    parts = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
    ]
    for i, bar in enumerate(bars):
        y = i * row_h + 4
        w = max(2.0, span * bar.value / top) if bar.value else 0.0
        attrs = ""
        if bar.data is not None:
            attrs = f' class="bar-link" data-{bar.data[0]}="{escape(bar.data[1])}" tabindex="0"'
        tip = f"{bar.label}: {bar.value:,}" + (f" — {bar.note}" if bar.note else "")
        parts.append(f"<g{attrs}><title>{escape(tip)}</title>")
        parts.append(
            f'<rect x="0" y="{y - 2}" width="{width}" height="{row_h - 4}" class="bar-hit"/>'
        )
        parts.append(
            f'<text x="{_LABEL_W - 10}" y="{y + 15}" class="bar-label" text-anchor="end">'
            f"{escape(_clip(bar.label, 14))}</text>"
        )
        parts.append(
            f'<rect x="{_LABEL_W}" y="{y + 3}" width="{w:.1f}" height="16" rx="3" '
            f'fill="{escape(bar.colour)}"/>'
        )
        parts.append(
            f'<text x="{_LABEL_W + w + 8:.1f}" y="{y + 15}" class="bar-value">{bar.value:,}</text>'
        )
        if bar.note:
            parts.append(
                f'<text x="{_LABEL_W}" y="{y + 33}" class="bar-note">'
                f"{escape(_clip(bar.note, 70))}</text>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def severity_chart(counts: dict[str, int]) -> str:
    bars = [
        Bar(sev, n, SEVERITY_COLOURS.get(sev, OTHER_COLOUR), data=("severity", sev))
        for sev, n in counts.items()
        if sev in SEVERITY_COLOURS or n
    ]
    return bar_chart(bars, title="Findings by severity", empty_text="No findings.", width=480)


def rules_chart(top_rules: list[tuple[str, int, str]]) -> str:
    bars = [
        Bar(code, n, RULE_COLOUR, note=text, data=("rule", code)) for code, n, text in top_rules
    ]
    return bar_chart(bars, title="Most frequent rule codes", empty_text="No findings.", width=720)
