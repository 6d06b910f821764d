"""The ways to show progress: rich (terminal), plain lines (not a terminal), JSON objects
(``--stats-json``), nothing (``--quiet``), and several at once (``TeeView``).

Every view writes to a stream that may be a closed pipe; give it a ``SafeStream``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from batcher.outcome import ReportLine
from batcher.progress.model import (
    ProgressView,
    Snapshot,
    clock_text,
    eta_text,
    failure_line,
    rate_text,
    size_text,
    status_line,
)


class QuietView:
    """``--quiet``: no progress, no per-row lines; only notices that need an answer now
    (Ctrl-C acknowledged) get through. The end summary still says it all."""

    interval = 1.0
    needs_totals = False
    """Shows no ETA: the manifest is not read twice for one (a second pass over a million
    rows, with a stat each, is what a quiet nightly run would otherwise pay)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def update(self, snapshot: Snapshot) -> None:
        pass

    def row_finished(self, line: ReportLine) -> None:
        pass

    def notice(self, text: str) -> None:
        if self.stream is not None and text.startswith("stopping"):
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self, snapshot: Snapshot) -> None:
        pass


class PlainView:
    """Not a terminal: a status line every ``interval`` seconds and one line per failure
    (``rows=False``: none, as with ``--log-level NOTICE``)."""

    def __init__(
        self,
        stream: TextIO,
        *,
        interval: float = 10.0,
        verbose: bool = False,
        rows: bool = True,
    ) -> None:
        self.stream = stream
        self.interval = interval
        self.verbose = verbose
        self.rows = rows

    def update(self, snapshot: Snapshot) -> None:
        self._say(status_line(snapshot))

    def row_finished(self, line: ReportLine) -> None:
        if self.rows and (line.status != "complete" or self.verbose):
            self._say(failure_line(line))

    def notice(self, text: str) -> None:
        self._say(text)

    def close(self, snapshot: Snapshot) -> None:
        self._say(status_line(snapshot))

    def _say(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


def snapshot_dict(s: Snapshot) -> dict[str, Any]:
    """One ``--stats-json`` object: every figure of a status line, in plain numbers."""
    return {
        "elapsedSeconds": round(s.elapsed, 3),
        "phase": s.phase,
        "rows": {
            "total": s.rows_total,
            "read": s.rows_read,
            "done": s.rows_done,
            "complete": s.complete,
            "failed": s.failed,
            "error": s.errors,
            "submitted": s.rows_submitted,
            "processing": s.processing,
        },
        "bytes": {"total": s.bytes_total, "sent": s.bytes_sent},
        "filesUploaded": s.files_uploaded,
        "bytesPerSecond": round(s.bytes_per_second, 1),
        "rowsPerSecond": round(s.rows_per_second, 3),
        "etaSeconds": None if s.eta_seconds is None else round(s.eta_seconds, 1),
        "etaAtLeast": s.eta_at_least,
    }


class JsonView:
    """``--stats-json``: one JSON object per line every ``interval`` seconds (``"event":
    "stats"``), one per notice, and a last one with ``"final": true`` (as rclone's
    ``--use-json-log --stats``). Per-row outcomes are the report's job, not this stream's."""

    def __init__(self, stream: TextIO, *, interval: float = 10.0) -> None:
        self.stream = stream
        self.interval = interval

    def update(self, snapshot: Snapshot) -> None:
        self._emit({"event": "stats", **snapshot_dict(snapshot)})

    def row_finished(self, line: ReportLine) -> None:
        pass

    def notice(self, text: str) -> None:
        self._emit({"event": "notice", "message": text})

    def close(self, snapshot: Snapshot) -> None:
        self._emit({"event": "stats", "final": True, **snapshot_dict(snapshot)})

    def _emit(self, data: dict[str, Any]) -> None:
        self.stream.write(json.dumps(data, ensure_ascii=False) + "\n")
        self.stream.flush()


class TeeView:
    """Several views at once (the terminal's and a ``--stats-json`` file), each updated at
    its own interval."""

    def __init__(self, views: Sequence[ProgressView]) -> None:
        self.views = list(views)
        self.interval = min(v.interval for v in self.views)
        self.needs_totals = any(getattr(v, "needs_totals", True) for v in self.views)
        self._due = [0.0 for _ in self.views]

    def update(self, snapshot: Snapshot) -> None:
        for i, view in enumerate(self.views):
            if snapshot.elapsed >= self._due[i]:
                view.update(snapshot)
                self._due[i] = snapshot.elapsed + view.interval

    def row_finished(self, line: ReportLine) -> None:
        for view in self.views:
            view.row_finished(line)

    def notice(self, text: str) -> None:
        for view in self.views:
            view.notice(text)

    def close(self, snapshot: Snapshot) -> None:
        for view in self.views:
            view.close(snapshot)


class RichView:
    """A terminal: two bars (bytes, rows) and a live table; failures print above them."""

    interval = 0.25

    def __init__(self, console: Console, *, verbose: bool = False, rows: bool = True) -> None:
        self.console = console
        self.verbose = verbose
        self.rows = rows
        self.bars = Progress(
            TextColumn("{task.description:>9}"),
            BarColumn(bar_width=40),
            TextColumn("{task.fields[text]}"),
            console=console,
        )
        self.bytes_task: TaskID = self.bars.add_task("uploaded", total=None, text="")
        self.rows_task: TaskID = self.bars.add_task("done", total=None, text="")
        self.live = Live(self._render(None), console=console, refresh_per_second=4, transient=False)
        self.live.start()

    def _render(self, s: Snapshot | None) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_row(self.bars)
        if s is not None:
            grid.add_row(
                f"[bold]{s.phase}[/] · "
                f"[bold]{s.rows_submitted:,}[/] submitted · [bold]{s.processing:,}[/] processing"
                f" · [green]{s.complete:,} complete[/] · [red]{s.failed:,} failed[/] · "
                f"[magenta]{s.errors:,} errors[/] · {rate_text(s)} · "
                f"elapsed {clock_text(s.elapsed)} · ETA {eta_text(s)}"
            )
            if s.notice:
                grid.add_row(f"[yellow]{s.notice}[/]")
        return grid

    def update(self, s: Snapshot) -> None:
        up = f"{size_text(s.bytes_sent)}" + (
            f" / {size_text(s.bytes_total)}" if s.bytes_total is not None else ""
        )
        rows = f"{s.rows_done:,}" + (f" / {s.rows_total:,} rows" if s.rows_total else " rows")
        self.bars.update(self.bytes_task, completed=s.bytes_sent, total=s.bytes_total, text=up)
        self.bars.update(self.rows_task, completed=s.rows_done, total=s.rows_total, text=rows)
        self.live.update(self._render(s))

    def row_finished(self, line: ReportLine) -> None:
        # Text, not markup: "[preflight/file_not_found]" would be eaten as a style tag.
        if not self.rows:
            return
        if line.status != "complete":
            self.console.print(Text(failure_line(line), style="red"))
        elif self.verbose:
            self.console.print(Text(failure_line(line)))

    def notice(self, text: str) -> None:
        self.console.print(Text(text, style="bold"))

    def close(self, snapshot: Snapshot) -> None:
        self.update(snapshot)
        self.live.stop()

    def abandon(self) -> None:
        """Stop the display without a last update (the run failed before it closed it)."""
        self.live.stop()
