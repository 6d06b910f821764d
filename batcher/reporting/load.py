"""Stream a JSONL report line by line, tolerating what a crash leaves behind.

The report writer flushes one whole line per row, so a run that dies mid-write leaves at
most one truncated last line. Such a line (and any other line that is not a report line) is
counted and located, never fatal: the rows before it are still worth reading. Lines are read
as bytes and decoded one at a time so one bad byte costs one line, not the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from batcher.errors import ReportUnreadable
from batcher.outcome import ReportLine

# Enough to point at the problem without holding a broken file's worth of line numbers.
_KEEP_PROBLEMS = 5


@dataclass(frozen=True)
class LoadedLine:
    lineno: int
    """1-based physical line number in the file (blank lines count)."""
    line: ReportLine
    raw: str
    """The line as written (without its newline), so ``--lines`` passes it on unchanged."""


@dataclass(frozen=True)
class LineProblem:
    lineno: int
    reason: str
    truncated: bool
    """The last line, cut short without its newline: the writer stopped mid-line."""


@dataclass
class ReportReader:
    """Iterate once over the readable lines; afterwards ``unreadable`` says what was skipped."""

    path: Path
    _fh: IO[bytes]
    unreadable: int = 0
    problems: list[LineProblem] = field(default_factory=list)
    lines_read: int = 0

    def __iter__(self) -> Iterator[LoadedLine]:
        with self._fh as fh:
            lineno = 0
            for chunk in fh:
                lineno += 1
                complete = chunk.endswith(b"\n")
                data = chunk.rstrip(b"\r\n")
                if not data.strip():
                    continue
                loaded = self._parse(lineno, data, complete)
                if loaded is not None:
                    self.lines_read += 1
                    yield loaded

    def _parse(self, lineno: int, data: bytes, complete: bool) -> LoadedLine | None:
        try:
            raw = data.decode("utf-8")
            record = json.loads(raw)
            return LoadedLine(lineno, ReportLine.model_validate(record), raw)
        except UnicodeDecodeError:
            reason = "not valid UTF-8"
        except json.JSONDecodeError as exc:
            reason = f"not valid JSON ({exc.msg}, column {exc.colno})"
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "line"
            reason = f"not a report line ({where}: {first['msg']})"
        self.unreadable += 1
        if len(self.problems) < _KEEP_PROBLEMS:
            self.problems.append(LineProblem(lineno, reason, truncated=not complete))
        return None

    def describe_problems(self) -> str:
        """One sentence for humans, e.g. for a warning on stderr; empty when all was read."""
        if not self.unreadable:
            return ""
        parts = []
        for p in self.problems:
            note = " — cut short, the run probably stopped mid-write" if p.truncated else ""
            parts.append(f"line {p.lineno}: {p.reason}{note}")
        more = ", …" if self.unreadable > len(self.problems) else ""
        noun = "line" if self.unreadable == 1 else "lines"
        return f"{self.unreadable} unreadable {noun} skipped ({'; '.join(parts)}{more})"


def open_report(path: Path) -> ReportReader:
    """Open a report for streaming. Raises ``ReportUnreadable`` before any line is read."""
    if not path.exists():
        raise ReportUnreadable(f"report not found: {path}")
    if not path.is_file():
        raise ReportUnreadable(f"not a file: {path}")
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise ReportUnreadable(f"cannot read the report {path}: {exc.strerror}") from None
    return ReportReader(path, fh)
