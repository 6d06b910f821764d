"""Live progress: what the run has done, what it is doing (its phase), its current rate and
an ETA (``eta.py``: rows, bytes and submissions left at recent rates).

The pipeline only exposes numbers (``Snapshot``); a ``ProgressView`` shows them. The CLI picks
the view: rich on a terminal, plain periodic lines on stderr otherwise (cron, CI, a pipe:
nothing that redraws), or nothing with ``--quiet``. stdout is never written.

Sizes are decimal with SI symbols (kB, MB, GB), as everywhere in batcher and in the API's
caps.
"""

from __future__ import annotations

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
    phase: str = "uploading"
    eta_at_least: bool = False
    notice: str | None = None
    """A condition the user should know of now (e.g. a host unreachable, the run waiting)."""

    @property
    def processing(self) -> int:
        return max(0, self.rows_submitted - (self.complete + self.failed))


def clock_text(seconds: float | None) -> str:
    if seconds is None:
        return "--:--:--"
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def size_text(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"


def eta_text(s: Snapshot) -> str:
    if s.phase == "done":
        return "done"
    return ("≥ " if s.eta_at_least else "") + clock_text(s.eta_seconds)


def rate_text(s: Snapshot) -> str:
    """The byte rate while uploading; after that the phase says more than a decaying rate."""
    if s.phase == "uploading":
        return f"at {size_text(s.bytes_per_second)}/s"
    return "(uploads done)" if s.phase != "stopping" else "(no new uploads)"


def status_line(s: Snapshot) -> str:
    total = f"/{s.rows_total:,}" if s.rows_total is not None else ""
    size_total = f"/{size_text(s.bytes_total)}" if s.bytes_total is not None else ""
    return (
        f"[{clock_text(s.elapsed)}] {s.phase} · rows {s.rows_done:,}{total} done "
        f"({s.complete:,} complete, {s.failed:,} failed, {s.errors:,} errors) · "
        f"uploaded {s.files_uploaded:,} files, {size_text(s.bytes_sent)}{size_total} "
        f"{rate_text(s)} · {s.rows_submitted:,} submitted, "
        f"{s.processing:,} processing · ETA {eta_text(s)}"
    ) + (f" · {s.notice}" if s.notice else "")


def failure_line(line: ReportLine) -> str:
    where = f"{line.error.stage}/{line.error.code}" if line.error else line.status
    message = line.error.message if line.error else ""
    return f"row {line.row} {line.status} [{where}] {line.path}: {message}".rstrip(": ")


class ProgressView(Protocol):
    interval: float

    def update(self, snapshot: Snapshot) -> None: ...

    def row_finished(self, line: ReportLine) -> None: ...

    def notice(self, text: str) -> None:
        """Something the user should know now (resuming, stopping, rows left unfinished)."""
        ...

    def close(self, snapshot: Snapshot) -> None: ...
