"""The resume journal: an embedded SQLite database recording each row's progress.

Four parts over one connection: ``store`` (the database, meta, commits), ``rows`` (the row
state machine, ``RowState``), ``blocks`` (staged blocks of large files, for block-level
resume) and ``history`` (``--incremental``: what earlier sweeps found, per identity). A
journal whose run ended with every row final is *completed*: opening it again starts the
next sweep, not a resume (the history stays).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from batcher.state.blocks import JournalBlockStore
from batcher.state.history import SweepHistory
from batcher.state.rows import RowStates
from batcher.state.store import JournalStore


class Journal:
    def __init__(
        self,
        path: Path,
        *,
        fresh: bool = False,
        now: Callable[[], float] = time.monotonic,
        incremental: bool = False,
    ) -> None:
        self.path = path
        self.store = JournalStore(path, fresh=fresh, now=now)
        self.rows = RowStates(self.store)
        self.blocks = JournalBlockStore(self.store)
        self.history: SweepHistory | None = None
        if incremental:
            self.history = SweepHistory(self.store, self.store.run_id)
            self.rows.on_reported = self.history.record

    @property
    def run_id(self) -> str:
        return self.store.run_id

    @property
    def resumed(self) -> bool:
        return self.store.resumed

    def record_manifest(self, manifest: Path) -> None:
        """For ``batcher retry``: which manifest this report's rows are numbered in."""
        self.store.set_meta("manifest", str(manifest))

    def mark_completed(self) -> None:
        """Every row reached a final line: the next run over this report starts afresh."""
        self.store.set_meta("completed", "1")

    def close(self) -> None:
        self.store.close()
