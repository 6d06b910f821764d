"""The single writer of the report (s5cmd's single output channel): lines never interleave,
each is flushed as its row finishes, and every row is written exactly once."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from anyio.streams.memory import MemoryObjectReceiveStream

from batcher.errors import ReportWriteError
from batcher.logs import event
from batcher.outcome import ReportLine
from batcher.reporting.summary import SummaryBuilder
from batcher.rows.rowset import RowBitmap
from batcher.state.journal import Journal


@dataclass
class ReportTally:
    """What has been written: the rows (exactly once) and the summary counts."""

    summary: SummaryBuilder = field(default_factory=SummaryBuilder)
    reported_rows: RowBitmap = field(default_factory=RowBitmap)
    provisional: int = 0

    def add(self, line: ReportLine) -> None:
        self.reported_rows.add(line.row)
        self.summary.add(line)
        if provisional(line):
            self.provisional += 1


# Outcomes that say "not finished yet": the journal keeps the row's progress instead, so
# the next run picks it up (polls again, or starts it) rather than repeating this line.
PROVISIONAL_CODES = frozenset(
    {"aborted", "deadline_exceeded", "interrupted", "service_unreachable"}
)


def provisional(line: ReportLine) -> bool:
    return line.error is not None and line.error.code in PROVISIONAL_CODES


class ReportWriter:
    """Writes each line to the journal first, then the report: a crash between the two leaves
    a line the next run rewrites from the journal, never a line the journal lacks."""

    def __init__(self, path: Path, journal: Journal | None = None, *, append: bool = False) -> None:
        self.path = path
        self.journal = journal
        self.tally = ReportTally()
        self.on_line: Callable[[ReportLine], None] | None = None
        """Told of each line this run writes (live progress prints failures as they come)."""
        try:
            self._fh: IO[str] = path.open("a" if append else "w", encoding="utf-8")
        except OSError as exc:
            raise ReportWriteError(f"cannot write the report {path}: {exc.strerror}") from None

    def write(self, line: ReportLine) -> None:
        if line.row in self.tally.reported_rows:
            return  # exactly once, whatever a stage does
        text = line.to_json()
        if self.journal is not None and not provisional(line):
            self.journal.rows.reported(line, text)
        self._write(text)
        self.tally.add(line)
        code = line.error.code if line.error else None
        event(
            logging.INFO,
            "row finished",
            row=line.row,
            path=line.path,
            status=line.status,
            code=code,
            submissionId=line.submission_id,
            assetId=line.asset_id,
        )
        if self.on_line is not None:
            self.on_line(line)

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


async def report_stage(writer: ReportWriter, lines: MemoryObjectReceiveStream[ReportLine]) -> None:
    async with lines:
        async for line in lines:
            writer.write(line)
