"""Live progress: what the run has done, its current rate and an ETA from the recent rate.

The pipeline only exposes numbers (``Snapshot``); a ``ProgressView`` shows them. The CLI picks
the view: rich on a terminal, plain periodic lines on stderr otherwise (cron, CI, a pipe:
nothing that redraws), or nothing with ``--quiet``. stdout is never written.

The ETA uses the rate over the last ``window`` seconds, not the whole-run average (which
AzCopy and rclone users complain about: a slow start poisons it for hours).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Protocol

from batcher.outcome import ReportLine


@dataclass(frozen=True)
class Snapshot:
    elapsed: float
    rows_total: int | None
    bytes_total: int | None
    rows_read: int
    bytes_sent: int
    files_uploaded: int
    rows_submitted: int
    rows_done: int
    complete: int
    failed: int
    errors: int
    bytes_per_second: float
    rows_per_second: float
    eta_seconds: float | None
    notice: str | None = None
    """A condition the user should know of now (e.g. a host unreachable, the run waiting)."""

    @property
    def processing(self) -> int:
        return max(0, self.rows_submitted - (self.complete + self.failed))


class RateWindow:
    """Rates over the last ``window`` seconds from (time, bytes, rows) samples."""

    def __init__(self, window: float = 30.0) -> None:
        self.window = window
        self._samples: collections.deque[tuple[float, int, int]] = collections.deque()

    def add(self, now: float, sent: int, done: int) -> tuple[float, float]:
        self._samples.append((now, sent, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()
        t0, b0, r0 = self._samples[0]
        span = now - t0
        if span <= 0:
            return 0.0, 0.0
        return (sent - b0) / span, (done - r0) / span


def eta(
    *, bytes_left: int | None, rows_left: int | None, bytes_rate: float, rows_rate: float
) -> float | None:
    """Bytes decide while there are bytes to send; after that, finished rows."""
    if bytes_left is not None and bytes_left > 0:
        return bytes_left / bytes_rate if bytes_rate > 0 else None
    if rows_left is not None and rows_left > 0:
        return rows_left / rows_rate if rows_rate > 0 else None
    return 0.0 if rows_left == 0 else None


def clock_text(seconds: float | None) -> str:
    if seconds is None:
        return "--:--:--"
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def size_text(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"


def status_line(s: Snapshot) -> str:
    total = f"/{s.rows_total:,}" if s.rows_total is not None else ""
    size_total = f"/{size_text(s.bytes_total)}" if s.bytes_total is not None else ""
    return (
        f"[{clock_text(s.elapsed)}] rows {s.rows_done:,}{total} done "
        f"({s.complete:,} complete, {s.failed:,} failed, {s.errors:,} errors) · "
        f"uploaded {s.files_uploaded:,} files, {size_text(s.bytes_sent)}{size_total} "
        f"at {size_text(s.bytes_per_second)}/s · {s.rows_submitted:,} submitted, "
        f"{s.processing:,} processing · ETA {clock_text(s.eta_seconds)}"
    ) + (f" · {s.notice}" if s.notice else "")


def failure_line(line: ReportLine) -> str:
    where = f"{line.error.stage}/{line.error.code}" if line.error else line.status
    message = line.error.message if line.error else ""
    return f"row {line.row} {line.status} [{where}] {line.path}: {message}".rstrip(": ")


class ProgressView(Protocol):
    interval: float

    def update(self, snapshot: Snapshot) -> None: ...

    def row_finished(self, line: ReportLine) -> None: ...

    def close(self, snapshot: Snapshot) -> None: ...
