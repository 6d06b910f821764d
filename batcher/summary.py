"""The end-of-run summary: the report's own summary (the one ``batcher report`` prints) plus
what only the run knows: time, throughput, requests, retries and throttling met."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from batcher.completeness import MissingRows
from batcher.context import RunCounters
from batcher.outcome import ReportLine
from batcher.reporting.filters import ReportFilter
from batcher.reporting.summary import ReportSummary, human_bytes, was_sent
from batcher.stages.carry import CHAIN_BROKEN, Decision, Sweep
from batcher.stages.report import ReportTally

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_FATAL_API = 3
EXIT_ROWS_MISSING = 4
"""The run ended but some manifest rows have no report line (a bug; the rows are named)."""
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug, with a redacted traceback on stderr
EXIT_DISK_FULL = 74
"""EX_IOERR: the report, journal or log could not be written (disk full, quota, I/O error)."""
EXIT_INCOMPLETE = 75
"""EX_TEMPFAIL: some rows stopped on a retryable error; re-running the command finishes them."""
EXIT_UNREACHABLE = EXIT_INCOMPLETE
"""A host stayed away past --max-outage: the same "stopped, re-run to finish"."""
EXIT_INTERRUPTED = 130


NOT_SENT_STAGES = {"manifest": "refused", "preflight": "refused", "upload": "upload failed"}


@dataclass
class NotSent:
    """Rows whose bytes this run did not send, apart from the uploads counted as sent:
    refused before upload (a duplicate included), failed mid-upload, left unfinished, or
    carried over from an earlier run's journal."""

    rows: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)

    def _add(self, kind: str, line: ReportLine) -> None:
        self.rows[kind] = self.rows.get(kind, 0) + 1
        self.bytes[kind] = self.bytes.get(kind, 0) + (line.bytes or 0)

    def carried(self, line: ReportLine) -> None:
        self._add("done in an earlier run", line)

    def written(self, line: ReportLine) -> None:
        """A line this run wrote: counted here if its file was never put on the service."""
        if was_sent(line) or line.error is None:
            return
        self._add(NOT_SENT_STAGES.get(line.error.stage, "unfinished"), line)

    def as_dict(self) -> dict[str, Any]:
        return {k: {"rows": n, "bytes": self.bytes[k]} for k, n in self.rows.items()}

    def render(self) -> str:
        parts = []
        for kind, n in self.rows.items():
            size = f" ({human_bytes(self.bytes[kind])})" if self.bytes[kind] else ""
            parts.append(f"{n:,} {kind}{size}")
        return ", ".join(parts) or "none"


@dataclass
class RunSummary:
    report: ReportSummary
    counters: RunCounters
    throttled: dict[str, int]
    wall_seconds: float
    not_sent: NotSent = field(default_factory=NotSent)
    provisional: int = 0
    """Rows whose line is not final (a retryable error, or the run stopped): re-run to finish."""
    missing: MissingRows = field(default_factory=MissingRows)
    """Rows read but never reported: the run broke its promise (exit ``EXIT_ROWS_MISSING``)."""
    sweep: Sweep | None = None
    """``--incremental``: what the sweep carried, reviewed and found removed."""
    pacing: dict[str, dict[str, Any]] | None = None
    """Per bucket: requests, 429s met, the learned rate (None: never throttled)."""

    @classmethod
    def build(
        cls,
        tally: ReportTally,
        *,
        report_path: Any,
        wall_seconds: float,
        counters: RunCounters,
        throttled: dict[str, int],
        not_sent: NotSent | None = None,
        missing: MissingRows | None = None,
        sweep: Sweep | None = None,
        pacing: dict[str, dict[str, Any]] | None = None,
    ) -> RunSummary:
        report = tally.summary.build(report_path, ReportFilter())
        return cls(
            report,
            counters,
            throttled,
            wall_seconds,
            not_sent or NotSent(),
            provisional=tally.provisional,
            missing=missing or MissingRows(),
            sweep=sweep,
            pacing=pacing,
        )

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
        if self.missing:
            return EXIT_ROWS_MISSING
        if self.provisional:
            return EXIT_INCOMPLETE  # before "some failed": re-running is what helps first
        return EXIT_OK if self.complete == self.rows else EXIT_SOME_FAILED

    def problems(self) -> list[str]:
        """What the run must say loudly, beside the counts."""
        out = []
        if self.missing:
            out.append(
                f"ERROR: {self.missing.describe()}; this is a bug (please report it). "
                "The journal is not marked complete, so re-running resumes those rows."
            )
        if self.provisional:
            noun = "row" if self.provisional == 1 else "rows"
            out.append(
                f"INCOMPLETE: {self.provisional} {noun} stopped on a retryable error or "
                "were not finished; re-run the same command to finish them "
                "(nothing done is repeated)."
            )
        return out

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
            "notSent": self.not_sent.as_dict(),
            "throughputMBps": round(self.throughput_mb_s, 3),
            "submissions": c.submissions_created,
            "polls": c.polls,
            "retries": c.retries,
            "assetRetries": c.asset_retries,
            "throttled": {k: v for k, v in self.throttled.items() if v},
            "provisionalRows": self.provisional,
            "missingRows": {"count": self.missing.count, "first": list(self.missing.first)},
            "pacing": self.pacing or {},
            "exitCode": self.exit_code,
        }

    def as_dict(self) -> dict[str, Any]:
        """``--summary-json``: the report summary and the run's own figures."""
        out = {**self.report.as_dict(), "run": self.run_dict()}
        if self.sweep is not None:
            out["sweep"] = self.sweep.as_dict()
        return out

    def pacing_lines(self) -> list[str]:
        """ "upload bucket: settled at 24.3 req/s, 2 throttles" for every bucket that met a
        429 or was capped."""
        lines = []
        for bucket, p in (self.pacing or {}).items():
            rate = p.get("rate")
            if rate is None:
                continue
            throttles = int(p.get("throttles", 0))
            remembered = p.get("remembered")
            if not p.get("requests"):
                continue  # paced (learned earlier, or borrowed from another bucket), unused
            if throttles:
                how = "settled at"
            else:
                how = "capped at" if p.get("cap") is not None else "paced at"
            start = (
                f"started at {remembered:.1f} req/s (learned by an earlier run), "
                if remembered is not None
                else ""
            )
            lines.append(
                f"  {bucket} bucket: {start}{how} {rate:.1f} req/s, {throttles} throttle"
                + ("" if throttles == 1 else "s")
            )
        return lines

    def render(self) -> str:
        c = self.counters
        throttled = ", ".join(f"{b} ×{n}" for b, n in self.throttled.items() if n) or "none"
        run = [
            "",
            "Run",
            f"  wall time       {self.wall_seconds:,.1f} s",
            f"  uploaded        {c.files_uploaded:,} files, {human_bytes(c.bytes_uploaded)}"
            f" in this run ({self.throughput_mb_s:,.1f} MB/s)",
            f"  not sent        {self.not_sent.render()}",
            f"  requests        {c.submissions_created:,} submissions, {c.polls:,} polls",
            f"  retries         {c.retries:,} requests, {c.asset_retries:,} assets (E9)",
            f"  throttled (429) {throttled}",
            *self.pacing_lines(),
        ]
        if self.sweep is not None:
            run += self._render_sweep(self.sweep)
        return "\n".join([self.report.render_text(), *run, *self.problems(), *self.next_steps()])

    def next_steps(self) -> list[str]:
        """The commands for this run's report when rows did not complete."""
        if self.complete == self.rows:
            return []
        report = shlex.quote(str(self.report.report_path))
        return [
            "",
            "Next",
            f"  batcher report {report} --status failed --status error   the rows not complete",
            f"  batcher retry {report}   run those rows again (unchanged refusals are skipped)",
        ]

    @staticmethod
    def _render_sweep(sweep: Sweep) -> list[str]:
        n = sweep.counts
        out = [
            "",
            "Sweep (--incremental)",
            f"  carried         {n[Decision.CARRIED]:,} unchanged (nothing sent)",
            f"  reviewed        {n[Decision.CHANGED]:,} changed, {n[Decision.NEW]:,} new, "
            f"{n[Decision.RETRIED]:,} retried, {n[Decision.AGED]:,} past --max-age",
        ]
        if n[Decision.RESUMED]:
            out.append(f"  resumed         {n[Decision.RESUMED]:,} finished earlier in this sweep")
        if sweep.removed is not None:
            out.append(f"  removed since the last sweep: {len(sweep.removed):,}")
        if sweep.chains_broken:
            out.append(
                f"  version chains broken: {sweep.chains_broken:,} (new versions outside their "
                f"file's group; see the lines' notes, code {CHAIN_BROKEN})"
            )
        return out
