"""Each report line to whoever listens: the live view and a library caller's ``on_row``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from batcher.outcome import ReportLine
from batcher.progress.model import ProgressView

RowCallback = Callable[[ReportLine], None]


@dataclass
class LineFanout:
    view: ProgressView | None
    listeners: list[RowCallback] = field(default_factory=list)
    view_muted: bool = False
    """Set before the lines of unfinished rows: the view gets one count, not a line each."""

    def __call__(self, line: ReportLine) -> None:
        if self.view is not None and not self.view_muted:
            self.view.row_finished(line)
        for listener in self.listeners:
            listener(line)

    def notice(self, text: str) -> None:
        if self.view is not None:
            self.view.notice(text)
