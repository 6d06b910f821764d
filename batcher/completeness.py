"""The run's promise, checked once at its end: every manifest row it was asked to run has
exactly one report line.

The report writer already refuses a second line for a row; what can still go wrong is a row
that never gets one (a stage that drops it, an answer that overwrote it). ``RowsRead`` sits
on the row iterator the read stage consumes, so it knows every row the run took on (rows
left out by ``only_rows`` never pass through it); at the end the rows read are compared with
the rows written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from batcher.context import RunContext
from batcher.logs import event
from batcher.outcome import ErrorInfo, ReportLine
from batcher.progress.announce import notice
from batcher.progress.fanout import LineFanout
from batcher.progress.notices import unfinished_text
from batcher.rows.manifest import ManifestRow
from batcher.rows.rowset import RowBitmap
from batcher.stages.read import recorded_line
from batcher.stages.report import ReportWriter

SHOWN = 10
"""How many missing row numbers a message names (the count is always exact)."""


@dataclass(frozen=True)
class MissingRows:
    count: int = 0
    first: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return self.count > 0

    def describe(self) -> str:
        shown = ", ".join(str(r) for r in self.first)
        more = f" and {self.count - len(self.first)} more" if self.count > len(self.first) else ""
        noun = "row has" if self.count == 1 else "rows have"
        return f"{self.count} manifest {noun} no line in the report (row {shown}{more})"


@dataclass
class RowsRead:
    rows: RowBitmap = field(default_factory=RowBitmap)
    highest: int = 0

    def track(self, rows: Iterator[ManifestRow]) -> Iterator[ManifestRow]:
        for row in rows:
            self.rows.add(row.row)
            self.highest = max(self.highest, row.row)
            yield row

    def missing(self, written: RowBitmap) -> MissingRows:
        count = 0
        first: list[int] = []
        for r in range(1, self.highest + 1):
            if r in self.rows and r not in written:
                count += 1
                if len(first) < SHOWN:
                    first.append(r)
        return MissingRows(count, tuple(first))


def report_unfinished(
    writer: ReportWriter,
    rows: Iterator[ManifestRow],
    code: str,
    message: str,
    fanout: LineFanout,
    ctx: RunContext,
    *,
    retryable: bool = False,
) -> None:
    """After an abort or interruption every row still gets its line; these lines are
    provisional (not journaled), so the next run resumes the rows behind them. A row the
    stopped run never reached but an earlier one finished gets its finished line. The view is
    told their number, not each one (hundreds of identical lines bury the reason)."""
    info = ErrorInfo(stage="run", code=code, message=message, retryable=retryable)
    key_column = ctx.settings.key_column
    fanout.view_muted = True
    count = 0
    for row in rows:
        if row.row not in writer.tally.reported_rows:
            done = recorded_line(ctx.journal, row, ctx.manifest_dir, key_column)
            if done is not None:
                writer.write(done)
                continue
            count += 1
            writer.write(
                ReportLine(
                    row=row.row, path=row.path_text, status="error", error=info, columns=row.columns
                )
            )
    if count:
        notice(fanout, unfinished_text(count, code, writer.path))


def check_every_row_reported(read: RowsRead, writer: ReportWriter) -> MissingRows:
    """The end-of-run invariant: each row read has its line (the writer allows one at most)."""
    missing = read.missing(writer.tally.reported_rows)
    if missing:
        event(
            logging.ERROR,
            "rows missing from the report",
            count=missing.count,
            rows=list(missing.first),
        )
    return missing
