"""The single writer of the report (s5cmd's single output channel): lines never interleave,
each is flushed as its row finishes, and every row is written exactly once."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from anyio.streams.memory import MemoryObjectReceiveStream

from batcher.errors import BatcherError, ReportWriteError
from batcher.localio import disk_error
from batcher.logs import event, log
from batcher.outcome import ReportLine
from batcher.redact import Redactor
from batcher.reporting.summary import SummaryBuilder
from batcher.rows.encoding import without_surrogates
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


FLUSH_LINES = 256
"""Unflushed lines at most (``ReportWriter.write(flush=False)``)."""

# Lines of rows the run stopped before finishing (a fatal answer, Ctrl-C/SIGTERM, a host
# gone past --max-outage, a Retry-After past --max-throttle-wait).
STOPPED_CODES = frozenset({"aborted", "interrupted", "service_unreachable", "throttled"})


def provisional(line: ReportLine) -> bool:
    """A line that says "not finished yet": the run stopped before the row's end, or the
    row's last error was retryable (transport, timeout, 429, 5xx, polling deadline) and only
    this run's retries ran out. The journal keeps the row's progress instead of the line, so
    the next run picks it up (polls again, submits, or uploads) rather than repeating it.

    Only ``error`` lines: a ``failed`` line is the service's own verdict on the file (its
    E9 retries already spent), which another run would just fetch again.
    """
    error = line.error
    if line.status != "error" or error is None:
        return False
    return error.retryable or error.code in STOPPED_CODES


class ReportWriter:
    """Writes each line to the journal first, then the report: a crash between the two leaves
    a line the next run rewrites from the journal, never a line the journal lacks."""

    def __init__(self, path: Path, journal: Journal | None = None, *, append: bool = False) -> None:
        self.path = path
        self.journal = journal
        self.tally = ReportTally()
        self.on_line: Callable[[ReportLine], None] | None = None
        """Told of each line this run writes (live progress prints failures as they come)."""
        self.redactor = Redactor()
        """The run's secrets (set by the pipeline): the last net before report and journal."""
        try:
            self._fh: IO[str] = path.open("a" if append else "w", encoding="utf-8")
        except OSError as exc:
            raise _write_error(exc, path) from None
        self._good = self._fh.tell()
        """Bytes of whole lines flushed: a failed write is cut back to here."""
        self._unflushed = 0
        self._log = log()

    def write(self, line: ReportLine, *, flush: bool = True) -> None:
        """``flush=False`` (carried lines, many a millisecond): flushed with the next line
        that is, by ``flush()``, or after ``FLUSH_LINES`` lines. Such lines are not
        journaled, so one lost in a crash is decided again by the next run."""
        if line.row in self.tally.reported_rows:
            return  # exactly once, whatever a stage does
        line, text = _serialisable(line)
        clean = self.redactor(text)
        if clean != text:  # a secret reached a message: show exactly what is written
            try:
                line = ReportLine.model_validate_json(clean)
            except ValueError:  # a replacement inside a JSON escape: drop the message
                line, _ = _serialisable(_withheld(line))
                clean = self.redactor(line.to_json())
            text = clean
        if self.journal is not None and not provisional(line):
            self.journal.rows.reported(line, text)
        self._write(text, flush=flush)
        self.tally.add(line)
        if self._log.isEnabledFor(logging.INFO):  # the fields cost, even when not logged
            event(
                logging.INFO,
                "row finished",
                row=line.row,
                path=line.path,
                status=line.status,
                code=line.error.code if line.error else None,
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

    def _write(self, text: str, *, flush: bool = True) -> None:
        try:
            self._fh.write(text + "\n")
        except OSError as exc:
            self._cut_back()
            raise _write_error(exc, self.path) from None
        self._unflushed += 1
        if flush or self._unflushed >= FLUSH_LINES:
            self.flush()

    def flush(self) -> None:
        """Make the lines written so far whole lines of the file (the cut-back point)."""
        if not self._unflushed:
            return
        try:
            self._fh.flush()
        except OSError as exc:
            self._cut_back()
            raise _write_error(exc, self.path) from None
        self._unflushed = 0
        self._good = self._fh.buffer.tell() if hasattr(self._fh, "buffer") else self._fh.tell()

    def _cut_back(self) -> None:
        """After a failed write (a full disk takes part of a line): drop the partial line,
        and the bytes still buffered, so the report holds whole lines only. Truncating needs
        no room."""
        with contextlib.suppress(OSError, ValueError):
            os.ftruncate(self._fh.fileno(), self._good)
        raw = getattr(getattr(self._fh, "buffer", None), "raw", None)
        with contextlib.suppress(OSError, ValueError):
            if raw is not None:
                raw.close()  # the buffered rest must never be flushed after the cut

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError, BatcherError):  # raised already, if so
            self.flush()
        with contextlib.suppress(OSError, ValueError):  # a failed flush was already raised
            self._fh.close()


def _withheld(line: ReportLine) -> ReportLine:
    if line.error is None:
        return line
    error = line.error.model_copy(update={"message": "(message withheld: it held a secret)"})
    return line.model_copy(update={"error": error})


def _write_error(exc: OSError, path: Path) -> BatcherError:
    full = disk_error(exc, path, "report")
    if full is not None:
        return full
    return ReportWriteError(f"cannot write the report {path}: {exc.strerror}")


def _serialisable(line: ReportLine) -> tuple[ReportLine, str]:
    """The line and its JSON. Text that cannot be UTF-8 (a lone surrogate from a manifest or
    an answer) must not cost the row its line: it is written with such characters escaped,
    and the journal and log get the same escaped line."""
    try:
        return line, line.to_json()
    except (ValueError, UnicodeError):  # pydantic's serialisation error is a ValueError
        clean = ReportLine.model_validate(_escape(line.model_dump()))
        return clean, clean.to_json()


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return without_surrogates(value)
    if isinstance(value, dict):
        return {without_surrogates(str(k)): _escape(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escape(v) for v in value]
    return value


async def report_stage(writer: ReportWriter, lines: MemoryObjectReceiveStream[ReportLine]) -> None:
    async with lines:
        async for line in lines:
            writer.write(line)
