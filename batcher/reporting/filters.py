"""Which report rows a command looks at.

Values of one filter are alternatives (``--status failed --status error``: either), filters
of different kinds must all hold (``--status failed --severity CRITICAL``: a failed row with
at least one CRITICAL finding). Severities and rule codes compare case-insensitively because
people type ``critical`` and ``cap_8.4``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from batcher.outcome import ReportLine

SEVERITY_ORDER: tuple[str, ...] = ("CRITICAL", "MAJOR", "MINOR", "INFO")
STATUSES: tuple[str, ...] = ("complete", "failed", "error")


def issue_field(issue: dict[str, object], key: str) -> str:
    """A finding's text field, upper-cased for comparison; '' when absent."""
    value = issue.get(key)
    return str(value).upper() if value is not None else ""


@dataclass(frozen=True)
class ReportFilter:
    statuses: frozenset[str] = frozenset()
    severities: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        statuses: Iterable[str] = (),
        severities: Iterable[str] = (),
        rules: Iterable[str] = (),
    ) -> ReportFilter:
        return cls(
            frozenset(s.lower() for s in statuses),
            frozenset(s.upper() for s in severities),
            frozenset(r.upper() for r in rules),
        )

    @property
    def active(self) -> bool:
        return bool(self.statuses or self.severities or self.rules)

    def matches(self, line: ReportLine) -> bool:
        if self.statuses and line.status not in self.statuses:
            return False
        if self.severities and not any(
            issue_field(i, "severity") in self.severities for i in line.issues
        ):
            return False
        return not self.rules or any(issue_field(i, "ruleCode") in self.rules for i in line.issues)

    def describe(self) -> str:
        """Human-readable, e.g. ``status failed|error, severity CRITICAL``; '' when inactive."""
        parts = [
            f"{name} {'|'.join(sorted(values))}"
            for name, values in (
                ("status", self.statuses),
                ("severity", self.severities),
                ("rule", self.rules),
            )
            if values
        ]
        return ", ".join(parts)

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "status": sorted(self.statuses),
            "severity": sorted(self.severities),
            "rule": sorted(self.rules),
        }
