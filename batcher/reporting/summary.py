"""The summary of any report, after the fact: counted in one streaming pass.

``SummaryBuilder.add`` sees each matching line once and keeps only counters (a rule's
summary text is kept once per rule code), so a million-line report costs no more memory
than a ten-line one. ``ReportSummary`` renders as text for people and as a dict for ``--json``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from batcher.outcome import ReportLine
from batcher.reporting.filters import SEVERITY_ORDER, STATUSES, ReportFilter

NO_METHOD = "not sent"
"""Rows that never reached an upload (pre-flight errors, bad manifest rows)."""


def human_bytes(n: int) -> str:
    """Decimal units, as the rest of batcher (and the API's caps) count."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{n:,} B" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def was_sent(line: ReportLine) -> bool:
    """The file is on the service: the service judged it, or we hold its blob path or a
    submission. A ``duplicate_row`` or a failed upload has a method but was never sent."""
    return line.status != "error" or line.blob_path is not None or line.submission_id is not None


def severity_rank(severity: str) -> int:
    """0 for CRITICAL … 3 for INFO; unknown severities sort after the known ones."""
    try:
        return SEVERITY_ORDER.index(severity)
    except ValueError:
        return len(SEVERITY_ORDER)


def ordered_severities(counts: Counter[str]) -> dict[str, int]:
    """Known severities first in their fixed order (zeros included), then any others."""
    known = {s: counts.get(s, 0) for s in SEVERITY_ORDER}
    others = {s: counts[s] for s in sorted(set(counts) - set(SEVERITY_ORDER))}
    return known | others


@dataclass
class ReportSummary:
    report_path: Path
    report_modified: datetime | None
    filters: ReportFilter
    rows: int
    by_status: dict[str, int]
    findings: int
    rows_with_findings: int
    findings_by_severity: dict[str, int]
    top_rules: list[tuple[str, int, str]]
    """(rule code, count, summary text) most frequent first."""
    distinct_rules: int
    error_codes: dict[str, int]
    bytes_total: int
    by_method: dict[str, tuple[int, int]]
    """upload method (or ``none``) → (rows, bytes)."""
    unreadable_lines: int = 0
    unreadable_detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "report": str(self.report_path),
            "reportModified": (
                self.report_modified.replace(microsecond=0).isoformat().replace("+00:00", "Z")
                if self.report_modified
                else None
            ),
            "filters": self.filters.as_dict(),
            "rows": self.rows,
            "status": self.by_status,
            "findings": self.findings,
            "rowsWithFindings": self.rows_with_findings,
            "findingsBySeverity": self.findings_by_severity,
            "topRules": [{"ruleCode": r, "count": n, "summary": s} for r, n, s in self.top_rules],
            "distinctRules": self.distinct_rules,
            "errorCodes": self.error_codes,
            "bytes": self.bytes_total,
            "uploadMethods": {m: {"rows": r, "bytes": b} for m, (r, b) in self.by_method.items()},
            "unreadableLines": self.unreadable_lines,
        }

    def render_text(self) -> str:
        when = (
            f" · written {self.report_modified:%Y-%m-%d %H:%M} UTC" if self.report_modified else ""
        )
        out = [f"Report    {self.report_path}{when}"]
        if self.filters.active:
            out.append(f"Filter    {self.filters.describe()}")
        if self.unreadable_lines:
            out.append(f"Warning   {self.unreadable_detail}")
        out += ["", f"{'Outcome':<14}{'rows':>8}{'share':>9}"]
        for status in STATUSES:
            n = self.by_status[status]
            share = f"{100 * n / self.rows:.1f}%" if self.rows else "—"
            out.append(f"  {status:<12}{n:>8,}{share:>9}")
        out.append(f"  {'total':<12}{self.rows:>8,}")
        out += ["", f"Findings  {self.findings:,} in {self.rows_with_findings:,} rows"]
        out += [f"  {sev:<12}{n:>8,}" for sev, n in self.findings_by_severity.items()]
        if self.top_rules:
            shown = len(self.top_rules)
            out += ["", f"Top rules ({shown} of {self.distinct_rules})"]
            width = max(12, *(len(r) + 2 for r, _, _ in self.top_rules))
            out += [f"  {r:<{width}}{n:>6,}  {s}" for r, n, s in self.top_rules]
        if self.error_codes:
            out += ["", "Errors"]
            width = max(12, *(len(c) + 2 for c in self.error_codes))
            out += [f"  {c:<{width}}{n:>6,}" for c, n in self.error_codes.items()]
        out += ["", f"{'Upload method':<14}{'rows':>8}{'bytes':>12}"]
        for method, (rows, size) in self.by_method.items():
            size_text = human_bytes(size) if size else "—"
            out.append(f"  {method:<12}{rows:>8,}{size_text:>12}")
        out.append(f"  {'total':<12}{self.rows:>8,}{human_bytes(self.bytes_total):>12}")
        return "\n".join(out)


@dataclass
class SummaryBuilder:
    top: int = 10
    rows: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    severities: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    rule_text: dict[str, str] = field(default_factory=dict)
    rows_with_findings: int = 0
    error_codes: Counter[str] = field(default_factory=Counter)
    bytes_total: int = 0
    method_rows: Counter[str] = field(default_factory=Counter)
    method_bytes: Counter[str] = field(default_factory=Counter)

    def add(self, line: ReportLine) -> None:
        self.rows += 1
        self.by_status[line.status] += 1
        if line.issues:
            self.rows_with_findings += 1
        for issue in line.issues:
            self.severities[str(issue.get("severity") or "UNKNOWN").upper()] += 1
            code = issue.get("ruleCode")
            if code:
                self.rules[str(code)] += 1
                self.rule_text.setdefault(str(code), str(issue.get("summary") or ""))
        if line.error is not None:
            self.error_codes[line.error.code] += 1
        # Only a file the service holds (it has a blob path) counts under its method: a
        # duplicate or a failed upload carries a method but was never sent.
        method = (line.upload_method if was_sent(line) else None) or NO_METHOD
        self.method_rows[method] += 1
        if line.bytes is not None:
            self.bytes_total += line.bytes
            self.method_bytes[method] += line.bytes

    def build(
        self,
        report_path: Path,
        filters: ReportFilter,
        *,
        unreadable_lines: int = 0,
        unreadable_detail: str = "",
    ) -> ReportSummary:
        try:
            mtime = datetime.fromtimestamp(report_path.stat().st_mtime, UTC)
        except OSError:
            mtime = None
        methods = [m for m in ("direct", "presigned", NO_METHOD) if self.method_rows[m]]
        methods += sorted(set(self.method_rows) - {"direct", "presigned", NO_METHOD})
        return ReportSummary(
            report_path=report_path,
            report_modified=mtime,
            filters=filters,
            rows=self.rows,
            by_status={s: self.by_status.get(s, 0) for s in STATUSES},
            findings=sum(self.severities.values()),
            rows_with_findings=self.rows_with_findings,
            findings_by_severity=ordered_severities(self.severities),
            # Ties broken by code so the same report always prints the same table.
            top_rules=[
                (r, n, self.rule_text.get(r, ""))
                for r, n in sorted(self.rules.items(), key=lambda kv: (-kv[1], kv[0]))[: self.top]
            ],
            distinct_rules=len(self.rules),
            error_codes=dict(sorted(self.error_codes.items(), key=lambda kv: (-kv[1], kv[0]))),
            bytes_total=self.bytes_total,
            by_method={m: (self.method_rows[m], self.method_bytes[m]) for m in methods},
            unreadable_lines=unreadable_lines,
            unreadable_detail=unreadable_detail,
        )
