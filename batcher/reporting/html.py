"""One self-contained HTML page for a compliance team: no network, no fonts, no CDN.

The overview and the charts are static HTML/SVG made here; the per-asset table is rendered
by the inline script from one ``<script type="application/json">`` block, a page at a time,
so 10,000 rows open as fast as 100. Everything from the report is user data: static parts go
through ``html.escape``, the JSON block has ``<``, ``>`` and ``&`` escaped so no path can close
the script element, and the script only ever sets ``textContent`` and hrefs made here: links
to the media relative to the page (``./``, ``../``; so a page mailed with its folder, or kept
beside the media, still opens them; ``file://`` only where no relative path exists), and
``https``/``http`` links to precedents.

Each finding shows what a compliance reviewer reads first: its severity and the reasoning
behind it (``severityReasoningHeadline`` and ``severityReasoning``) and the precedents
(rulings) it rests on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from batcher.outcome import ReportLine
from batcher.reporting.charts import SEVERITY_COLOURS, rules_chart, severity_chart
from batcher.reporting.page_css import CSS
from batcher.reporting.page_js import JS
from batcher.reporting.summary import ReportSummary, human_bytes, severity_rank

_JSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def file_uri(path_text: str, base: Path, page_dir: Path | None = None) -> str | None:
    """The link to a report path. Relative to ``page_dir`` (the page's folder) when the
    report names the file relatively (media, manifest and page travel together) or the file
    lies below the page's folder; else a ``file://`` URI, which opens only on this machine.
    Relative paths in the report resolve against ``base``."""
    if not path_text:
        return None
    path = Path(path_text).expanduser()
    portable = not path.is_absolute()
    if portable:
        path = base / path
    path = Path(os.path.normpath(path))
    if page_dir is not None:
        try:
            rel: str | None = os.path.relpath(path, os.path.normpath(page_dir))
        except ValueError:  # another drive
            rel = None
        if rel is not None and (portable or not rel.startswith("..")):
            # Quoted: a name like "javascript:x" becomes "./javascript%3Ax", a plain path.
            href = quote(Path(rel).as_posix(), safe="/")
            return href if href.startswith("../") else "./" + href
    try:
        return path.as_uri()
    except (ValueError, UnicodeEncodeError):
        return None


def web_url(value: object) -> str | None:
    """A precedent's URL, kept only if it is plain http(s)."""
    text = str(value or "")
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    return text if parts.scheme in ("http", "https") and parts.netloc else None


@dataclass
class HtmlRows:
    """The table data, gathered while the report streams past.

    Rule codes, severities and finding texts repeat across thousands of rows, so each
    distinct string is stored once in ``strings`` and findings refer to it by index.
    """

    base: Path
    page_dir: Path | None = None
    """The page's folder: file links are made relative to it."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)
    _index: dict[str, int] = field(default_factory=dict)

    def _ref(self, value: object) -> int:
        text = "" if value is None else str(value)
        if text not in self._index:
            self._index[text] = len(self.strings)
            self.strings.append(text)
        return self._index[text]

    def _precedents(self, value: object) -> list[list[Any]]:
        """[title, url or None, decision, date] per precedent, strings by reference."""
        if not isinstance(value, list):
            return []
        out: list[list[Any]] = []
        for p in value:
            if isinstance(p, dict):
                title = p.get("title") or p.get("url") or "precedent"
                refs = [self._ref(p.get(k)) for k in ("decision", "date")]
                out.append([self._ref(title), web_url(p.get("url")), *refs])
        return out

    def add(self, line: ReportLine) -> None:
        severities = [str(i.get("severity") or "").upper() for i in line.issues]
        worst = min(severities, key=severity_rank) if severities else None
        row: dict[str, Any] = {
            "r": line.row,
            "p": line.path,
            "u": file_uri(line.path, self.base, self.page_dir),
            "s": line.status,
            "m": line.upload_method,
            "n": line.issue_count if line.issue_count is not None else len(line.issues) or None,
            "w": worst,
            "sid": line.submission_id,
            "aid": line.asset_id,
            "b": line.bytes,
            "f": [
                [
                    self._ref(i.get("ruleCode")),
                    self._ref(sev),
                    self._ref(i.get("summary")),
                    self._ref(i.get("severityReasoningHeadline")),
                    self._ref(i.get("severityReasoning")),
                    self._precedents(i.get("precedents")),
                ]
                for i, sev in zip(line.issues, severities, strict=True)
            ],
        }
        if line.error is not None:
            row["e"] = line.error.model_dump(by_alias=True)
        if line.columns:
            row["c"] = {str(k): "" if v is None else str(v) for k, v in line.columns.items()}
        self.rows.append(row)

    def to_json(self) -> str:
        payload = {"t": self.strings, "rows": self.rows, "sev": SEVERITY_COLOURS}
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return text.translate(_JSON_ESCAPES)


def _card(label: str, value: str, note: str = "", tone: str = "") -> str:
    cls = f"card {tone}".strip()
    note_html = f'<div class="card-note">{escape(note)}</div>' if note else ""
    return (
        f'<div class="{cls}"><div class="card-label">{escape(label)}</div>'
        f'<div class="card-value">{escape(value)}</div>{note_html}</div>'
    )


def _share(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}% of rows" if total else ""


def _overview(s: ReportSummary) -> str:
    st = s.by_status
    cards = [
        _card("Rows", f"{s.rows:,}", "one per manifest row"),
        _card("Complete", f"{st['complete']:,}", _share(st["complete"], s.rows), "ok"),
        _card("Failed", f"{st['failed']:,}", _share(st["failed"], s.rows), "bad"),
        _card("Error", f"{st['error']:,}", _share(st["error"], s.rows), "err"),
        _card("Findings", f"{s.findings:,}", f"in {s.rows_with_findings:,} rows"),
        _card("Data", human_bytes(s.bytes_total), f"{s.bytes_total:,} bytes"),
    ]
    return f'<section class="cards" aria-label="Overview">{"".join(cards)}</section>'


def _mini_table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    """A small numbers table; the first column is text, the others right-aligned."""
    ths = "".join(f"<th{' class=c-num' if i else ''}>{escape(h)}</th>" for i, h in enumerate(head))
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"c-num" if i else "mono"}">{escape(v)}</td>' for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f'<table class="mini"><thead><tr>{ths}</tr></thead><tbody>{body}</tbody></table>'


def _side(s: ReportSummary) -> str:
    """Under the severity chart: what went wrong outside compliance, and how bytes moved."""
    parts = ["<h3>Errors by code</h3>"]
    if s.error_codes:
        parts.append(
            _mini_table(("code", "rows"), [(c, f"{n:,}") for c, n in s.error_codes.items()])
        )
    else:
        parts.append('<p class="chart-empty">No errors.</p>')
    methods = [
        (m, f"{rows:,}", human_bytes(size) if size else "—")
        for m, (rows, size) in s.by_method.items()
    ]
    parts += ["<h3>Upload method</h3>", _mini_table(("method", "rows", "bytes"), methods)]
    return f'<div class="side">{"".join(parts)}</div>'


def _subtitle(s: ReportSummary, generated: datetime) -> str:
    parts = [f"<strong>{escape(s.report_path.name)}</strong>"]
    if s.report_modified:
        parts.append(f"report written {s.report_modified:%Y-%m-%d %H:%M} UTC")
    parts.append(f"page made {generated:%Y-%m-%d %H:%M} UTC")
    line = " · ".join(parts)
    extra = ""
    if s.filters.active:
        extra += f'<p class="notice">Only rows matching: {escape(s.filters.describe())}</p>'
    if s.unreadable_lines:
        extra += f'<p class="notice warn">{escape(s.unreadable_detail)}</p>'
    full = escape(str(s.report_path))
    return f'<p class="subtitle" title="{full}">{line}</p>{extra}'


_TABLE = """
<section class="panel assets" aria-labelledby="assets-h">
  <div class="panel-head"><h2 id="assets-h">Assets</h2>
    <p class="hint">Click a row to see its findings. Click a bar above to filter.</p></div>
  <div class="toolbar">
    <input id="q" type="search" placeholder="Search path, ID, rule, error…" aria-label="Search">
    <select id="f-status" aria-label="Status"><option value="">All statuses</option>
      <option>complete</option><option>failed</option><option>error</option></select>
    <select id="f-sev" aria-label="Severity"><option value="">Any severity</option></select>
    <select id="f-rule" aria-label="Rule code"><option value="">Any rule</option></select>
    <button id="f-clear" type="button" class="link-btn">Clear</button>
    <span id="count" class="count" aria-live="polite"></span>
  </div>
  <div class="table-wrap"><table id="assets">
    <thead><tr>
      <th class="c-tog"></th>
      <th data-key="row" class="c-num"><button type="button">#</button></th>
      <th data-key="path"><button type="button">Path</button></th>
      <th data-key="status"><button type="button">Status</button></th>
      <th data-key="method"><button type="button">Method</button></th>
      <th data-key="issues" class="c-num"><button type="button">Issues</button></th>
      <th data-key="worst"><button type="button">Worst severity</button></th>
      <th data-key="sid"><button type="button">Submission ID</button></th>
      <th data-key="aid"><button type="button">Asset ID</button></th>
    </tr></thead>
    <tbody><tr><td colspan="9" class="empty">Loading… (this table needs JavaScript)</td></tr>
    </tbody></table></div>
  <nav class="pager" aria-label="Pages">
    <button type="button" data-page="first">« First</button>
    <button type="button" data-page="prev">‹ Previous</button>
    <span id="page-info"></span>
    <button type="button" data-page="next">Next ›</button>
    <button type="button" data-page="last">Last »</button>
  </nav>
</section>"""


def render_html(summary: ReportSummary, rows: HtmlRows, *, generated: datetime) -> str:
    """The whole page as one string; write it with UTF-8."""
    title = f"Compliance report — {summary.report_path.name}"
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            # No network at all: even a stray URL in the data cannot make the page fetch.
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
            '<header class="top"><h1>Compliance report</h1>',
            _subtitle(summary, generated),
            "</header><main>",
            _overview(summary),
            '<section class="charts">',
            '<figure class="panel"><figcaption><h2>Findings by severity</h2></figcaption>',
            severity_chart(summary.findings_by_severity),
            _side(summary),
            "</figure>",
            '<figure class="panel"><figcaption><h2>Most frequent rule codes</h2>'
            f'<span class="hint">top {len(summary.top_rules)} of {summary.distinct_rules}'
            "</span></figcaption>",
            rules_chart(summary.top_rules),
            "</figure></section>",
            _TABLE,
            "</main>",
            "<footer>Made by <code>batcher report</code>. Links to files are relative to this "
            "page: they open while the page stays where it was made relative to the media (or "
            "is sent with them); everything else on the page works anywhere.</footer>",
            f'<script type="application/json" id="report-data">{rows.to_json()}</script>',
            f"<script>{JS}</script></body></html>\n",
        ]
    )
