"""The three ways to show progress: rich (terminal), plain lines (not a terminal), nothing."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table

from batcher.outcome import ReportLine
from batcher.progress.model import Snapshot, clock_text, failure_line, size_text, status_line


class QuietView:
    """``--quiet``: no progress, no per-row lines (the end summary still says it all)."""

    interval = 1.0

    def update(self, snapshot: Snapshot) -> None:
        pass

    def row_finished(self, line: ReportLine) -> None:
        pass

    def close(self, snapshot: Snapshot) -> None:
        pass


class PlainView:
    """Not a terminal: a status line every ``interval`` seconds and one line per failure."""

    def __init__(self, stream: TextIO, *, interval: float = 10.0, verbose: bool = False) -> None:
        self.stream = stream
        self.interval = interval
        self.verbose = verbose

    def update(self, snapshot: Snapshot) -> None:
        self._say(status_line(snapshot))

    def row_finished(self, line: ReportLine) -> None:
        if line.status != "complete" or self.verbose:
            self._say(failure_line(line))

    def close(self, snapshot: Snapshot) -> None:
        self._say(status_line(snapshot))

    def _say(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class RichView:
    """A terminal: two bars (bytes, rows) and a live table; failures print above them."""

    interval = 0.25

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
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
                f"[bold]{s.rows_submitted:,}[/] submitted · [bold]{s.processing:,}[/] processing"
                f" · [green]{s.complete:,} complete[/] · [red]{s.failed:,} failed[/] · "
                f"[magenta]{s.errors:,} errors[/] · {size_text(s.bytes_per_second)}/s · "
                f"elapsed {clock_text(s.elapsed)} · ETA {clock_text(s.eta_seconds)}"
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
        if line.status != "complete":
            self.console.print(f"[red]{failure_line(line)}[/]", markup=True, highlight=False)
        elif self.verbose:
            self.console.print(failure_line(line), highlight=False)

    def close(self, snapshot: Snapshot) -> None:
        self.update(snapshot)
        self.live.stop()
