"""The end-of-run summary: the report's own summary (the one ``batcher report`` prints) plus
what only the run knows: time, throughput, requests, retries and throttling met."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from batcher.context import RunCounters
from batcher.reporting.filters import ReportFilter
from batcher.reporting.summary import ReportSummary, human_bytes
from batcher.stages.report import ReportTally

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_FATAL_API = 3
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug, with a redacted traceback on stderr
EXIT_UNREACHABLE = 75  # EX_TEMPFAIL: a host stayed away (--max-outage); re-run to resume
EXIT_INTERRUPTED = 130


@dataclass
class RunSummary:
    report: ReportSummary
    counters: RunCounters
    throttled: dict[str, int]
    wall_seconds: float

    @classmethod
    def build(
        cls,
        tally: ReportTally,
        *,
        report_path: Any,
        wall_seconds: float,
        counters: RunCounters,
        throttled: dict[str, int],
    ) -> RunSummary:
        report = tally.summary.build(report_path, ReportFilter())
        return cls(report, counters, throttled, wall_seconds)

    @property
    def rows(self) -> int:
        return self.report.rows

    @property
    def complete(self) -> int:
        return self.report.by_status["complete"]

    @property
    def failed(self) -> int:
        return self.report.by_status["failed"]

    @property
    def errors(self) -> int:
        return self.report.by_status["error"]

    @property
    def retries(self) -> int:
        return self.counters.retries

    @property
    def asset_retries(self) -> int:
        return self.counters.asset_retries

    @property
    def submissions(self) -> int:
        return self.counters.submissions_created

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.complete == self.rows else EXIT_SOME_FAILED

    @property
    def throughput_mb_s(self) -> float:
        up = self.counters.bytes_uploaded
        return up / 1e6 / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def run_dict(self) -> dict[str, Any]:
        c = self.counters
        return {
            "wallSeconds": round(self.wall_seconds, 3),
            "filesUploaded": c.files_uploaded,
            "bytesUploaded": c.bytes_uploaded,
            "throughputMBps": round(self.throughput_mb_s, 3),
            "submissions": c.submissions_created,
            "polls": c.polls,
            "retries": c.retries,
            "assetRetries": c.asset_retries,
            "throttled": {k: v for k, v in self.throttled.items() if v},
            "exitCode": self.exit_code,
        }

    def as_dict(self) -> dict[str, Any]:
        """``--summary-json``: the report summary and the run's own figures."""
        return {**self.report.as_dict(), "run": self.run_dict()}

    def render(self) -> str:
        c = self.counters
        throttled = ", ".join(f"{b} ×{n}" for b, n in self.throttled.items() if n) or "none"
        run = [
            "",
            "Run",
            f"  wall time       {self.wall_seconds:,.1f} s",
            f"  uploaded        {c.files_uploaded:,} files, {human_bytes(c.bytes_uploaded)}"
            f" ({self.throughput_mb_s:,.1f} MB/s)",
            f"  requests        {c.submissions_created:,} submissions, {c.polls:,} polls",
            f"  retries         {c.retries:,} requests, {c.asset_retries:,} assets (E9)",
            f"  throttled (429) {throttled}",
        ]
        return self.report.render_text() + "\n" + "\n".join(run)
