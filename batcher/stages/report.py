"""The single writer of the report (s5cmd's single output channel): lines never interleave,
each is flushed as its row finishes, and every row is written exactly once."""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from anyio.abc import ObjectReceiveStream

from batcher.errors import UsageError
from batcher.journal import Journal
from batcher.outcome import ReportLine


class ReportWriteError(UsageError):
    """The report cannot be written (disk full, permissions): the run cannot keep its promise
    that every row ends in the report, so it stops."""

    code = "report_unwritable"


@dataclass
class ReportTally:
    rows: int = 0
    complete: int = 0
    failed: int = 0
    errors: int = 0
    findings_by_severity: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    error_codes: Counter[str] = field(default_factory=Counter)
    reported_rows: set[int] = field(default_factory=set)
    provisional: int = 0

    def add(self, line: ReportLine) -> None:
        self.rows += 1
        self.reported_rows.add(line.row)
        if line.status == "complete":
            self.complete += 1
        elif line.status == "failed":
            self.failed += 1
        else:
            self.errors += 1
        if line.error is not None:
            self.error_codes[line.error.code] += 1
            if provisional(line):
                self.provisional += 1
        for issue in line.issues:
            self.findings_by_severity[str(issue.get("severity", "UNKNOWN"))] += 1
            if issue.get("ruleCode"):
                self.rules[str(issue["ruleCode"])] += 1


# Outcomes that say "not finished yet": the journal keeps the row's progress instead, so
# the next run picks it up (polls again, or starts it) rather than repeating this line.
PROVISIONAL_CODES = frozenset({"aborted", "deadline_exceeded", "interrupted"})


def provisional(line: ReportLine) -> bool:
    return line.error is not None and line.error.code in PROVISIONAL_CODES


class ReportWriter:
    """Writes each line to the journal first, then the report: a crash between the two leaves
    a line the next run rewrites from the journal, never a line the journal lacks."""

    def __init__(self, path: Path, journal: Journal | None = None, *, append: bool = False) -> None:
        self.path = path
        self.journal = journal
        self.tally = ReportTally()
        try:
            self._fh: IO[str] = path.open("a" if append else "w", encoding="utf-8")
        except OSError as exc:
            raise ReportWriteError(f"cannot write the report {path}: {exc.strerror}") from None

    def write(self, line: ReportLine) -> None:
        if line.row in self.tally.reported_rows:
            return  # exactly once, whatever a stage does
        if self.journal is not None and not provisional(line):
            self.journal.reported(line.row, line)
        self._write(line.to_json())
        self.tally.add(line)

    def replay(self, text: str) -> None:
        """A line an earlier run finished (from the journal): written again, not recomputed."""
        line = ReportLine.model_validate_json(text)
        if line.row not in self.tally.reported_rows:
            self._write(text)
            self.tally.add(line)

    def _write(self, text: str) -> None:
        try:
            self._fh.write(text + "\n")
            self._fh.flush()
        except OSError as exc:
            raise ReportWriteError(f"cannot write the report {self.path}: {exc.strerror}") from None

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a failed flush was already a ReportWriteError
            self._fh.close()


async def report_stage(writer: ReportWriter, lines: ObjectReceiveStream[ReportLine]) -> None:
    async with lines:
        async for line in lines:
            writer.write(line)
