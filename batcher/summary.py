"""The end-of-run summary: what the report holds, in numbers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batcher.context import RunCounters
from batcher.stages.report import ReportTally

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_FATAL_API = 3
EXIT_INTERRUPTED = 130


@dataclass
class RunSummary:
    report_path: Path
    rows: int
    complete: int
    failed: int
    errors: int
    findings_by_severity: dict[str, int]
    top_rules: list[tuple[str, int]]
    error_codes: dict[str, int]
    bytes_uploaded: int
    files_uploaded: int
    submissions: int
    polls: int
    retries: int
    asset_retries: int
    throttled: dict[str, int]
    wall_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        tally: ReportTally,
        *,
        report_path: Path,
        wall_seconds: float,
        counters: RunCounters,
        throttled: dict[str, int],
    ) -> RunSummary:
        return cls(
            report_path=report_path,
            rows=tally.rows,
            complete=tally.complete,
            failed=tally.failed,
            errors=tally.errors,
            findings_by_severity=dict(tally.findings_by_severity),
            top_rules=Counter(tally.rules).most_common(5),
            error_codes=dict(tally.error_codes),
            bytes_uploaded=counters.bytes_uploaded,
            files_uploaded=counters.files_uploaded,
            submissions=counters.submissions_created,
            polls=counters.polls,
            retries=counters.retries,
            asset_retries=counters.asset_retries,
            throttled=throttled,
            wall_seconds=wall_seconds,
        )

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.complete == self.rows else EXIT_SOME_FAILED

    @property
    def throughput_mb_s(self) -> float:
        return self.bytes_uploaded / 1e6 / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def render(self) -> str:
        sev_order = ["CRITICAL", "MAJOR", "MINOR", "INFO"]
        sev = (
            ", ".join(
                f"{k} {self.findings_by_severity[k]}"
                for k in sev_order + sorted(set(self.findings_by_severity) - set(sev_order))
                if k in self.findings_by_severity
            )
            or "none"
        )
        lines = [
            f"rows {self.rows}: {self.complete} complete, {self.failed} failed, "
            f"{self.errors} errors",
            f"findings: {sev}",
        ]
        if self.top_rules:
            lines.append("top rules: " + ", ".join(f"{r} ×{n}" for r, n in self.top_rules))
        if self.error_codes:
            lines.append(
                "errors: " + ", ".join(f"{c} ×{n}" for c, n in sorted(self.error_codes.items()))
            )
        lines.append(
            f"uploaded {self.files_uploaded} files, {self.bytes_uploaded / 1e6:,.1f} MB in "
            f"{self.wall_seconds:.1f} s ({self.throughput_mb_s:,.1f} MB/s); "
            f"{self.submissions} submissions, {self.polls} polls, {self.retries} retries, "
            f"{self.asset_retries} asset retries"
        )
        if any(self.throttled.values()):
            lines.append(
                "throttled (429): " + ", ".join(f"{b} ×{n}" for b, n in self.throttled.items() if n)
            )
        lines.append(f"report: {self.report_path}")
        return "\n".join(lines)
