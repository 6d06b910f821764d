"""The sweep history (``--incremental``): per identity, the last result the service gave and
the file as it was then. One row per identity, kept across sweeps and ``--fresh``, pruned of
rows gone from the manifest when a sweep completes: its size follows the library.

Written in the same transaction as the row's final journal line, so a crash leaves the two
in step: a row either finished this sweep (journal and history say so) or did not.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from batcher.outcome import ReportLine
from batcher.state.seen import CHUNK, SeenTable
from batcher.state.store import GuardedConnection, JournalStore

# Failures that say nothing about the bytes (retries spent, deadline, refused request) are
# reviewed again next sweep; a non-retryable processing failure is the bytes' answer.
_CARRY_STATUSES = frozenset({"complete", "failed"})


class HistoryRecord(NamedTuple):
    """A tuple, not a frozen dataclass: one is built per row of a sweep, and a frozen
    dataclass's ``__init__`` (an ``object.__setattr__`` per field) was a visible cost."""

    key: str
    path_text: str
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    submission_id: str | None
    """The submission that last reviewed this identity: the next version's previous one."""
    asset_id: str | None
    version_group_id: str | None
    version_number: int | None
    status: str
    carry: bool
    """The line may be carried while the bytes stay the same (complete, or failed for a
    reason that is not retryable)."""
    line: str
    reviewed_at: str
    sweep: str

    def reviewed(self) -> datetime:
        return datetime.fromisoformat(self.reviewed_at)


_COLUMNS = (
    "key", "path_text", "size", "mtime_ns", "sha256", "submission_id", "asset_id",
    "version_group_id", "version_number", "status", "carry", "line", "reviewed_at", "sweep",
)  # fmt: skip
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM history WHERE key = ?"
_SELECT_MANY = f"SELECT {', '.join(_COLUMNS)} FROM history WHERE key IN ({{marks}})"
# The version chain is kept when a line has no submission (an upload error): the next
# review still links to the last submission that saw this file.
_UPSERT = f"""
INSERT INTO history ({", ".join(_COLUMNS)}) VALUES ({", ".join("?" for _ in _COLUMNS)})
ON CONFLICT(key) DO UPDATE SET
    path_text = excluded.path_text, size = excluded.size, mtime_ns = excluded.mtime_ns,
    sha256 = excluded.sha256,
    submission_id = COALESCE(excluded.submission_id, history.submission_id),
    asset_id = COALESCE(excluded.asset_id, history.asset_id),
    version_group_id = COALESCE(excluded.version_group_id, history.version_group_id),
    version_number = COALESCE(excluded.version_number, history.version_number),
    status = excluded.status, carry = excluded.carry, line = excluded.line,
    reviewed_at = excluded.reviewed_at, sweep = excluded.sweep
"""


def _record(found: tuple[Any, ...]) -> HistoryRecord:
    values = list(found)
    values[10] = bool(values[10])
    return HistoryRecord._make(values)


def carryable(line: ReportLine) -> bool:
    if line.status == "complete":
        return line.submission_id is not None
    if line.status == "failed":
        return line.error is None or not line.error.retryable
    return False


class HistoryReader:
    """Lookups only, on any connection (``--dry-run`` opens the journal read-only)."""

    def __init__(self, db: sqlite3.Connection | GuardedConnection) -> None:
        self._db = db

    @property
    def db(self) -> sqlite3.Connection | GuardedConnection:
        """The connection (the run's seen-table lives on it, so SQL can compare the two)."""
        return self._db

    @classmethod
    def open_read_only(cls, path: Path) -> HistoryReader | None:
        """The history in the journal at ``path``, or None if there is none to read."""
        if not path.exists():
            return None
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            db.execute("SELECT count(*) FROM history").fetchone()
        except sqlite3.Error:
            return None
        return cls(db)

    def get(self, key: str) -> HistoryRecord | None:
        found = self._db.execute(_SELECT, (key,)).fetchone()
        return None if found is None else _record(found)

    def get_many(self, keys: Sequence[str]) -> dict[str, HistoryRecord]:
        """``get`` for many keys in a few statements (the keys missing are not in the dict)."""
        out: dict[str, HistoryRecord] = {}
        for start in range(0, len(keys), CHUNK):
            chunk = tuple(dict.fromkeys(keys[start : start + CHUNK]))
            marks = ", ".join("?" for _ in chunk)
            for found in self._db.execute(_SELECT_MANY.format(marks=marks), chunk):
                record = _record(found)
                out[record.key] = record
        return out

    def unseen(self, seen: SeenTable) -> list[tuple[str, str]]:
        """(key, path) of every identity on record that ``seen`` has not met, by path."""
        query = f"SELECT key, path_text FROM history WHERE {seen.not_in('history')} ORDER BY 2"
        return [(str(key), str(path)) for key, path in self._db.execute(query)]

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM history").fetchone()[0])

    def close(self) -> None:
        self._db.close()


class SweepHistory(HistoryReader):
    def __init__(
        self, store: JournalStore, sweep: str, wall: Callable[[], datetime] | None = None
    ) -> None:
        super().__init__(store.db)
        self._store = store
        self._sweep = sweep
        self._wall = wall or (lambda: datetime.now(UTC))

    def record(self, line: ReportLine, text: str) -> None:
        """A final line of this sweep (inside the journal's deferred transaction)."""
        origin = line.origin
        if origin is None or origin.key is None or not origin.journal:
            return
        self._store.db.execute(
            _UPSERT,
            (
                origin.key,
                line.path,
                line.bytes,
                origin.mtime_ns,
                origin.sha256,
                line.submission_id,
                line.asset_id,
                line.version_group_id,
                line.version_number,
                line.status,
                int(line.status in _CARRY_STATUSES and carryable(line)),
                text,
                self._wall().isoformat(timespec="seconds"),
                self._sweep,
            ),
        )

    def forget_unseen(self, seen: SeenTable) -> None:
        """Drop every identity ``seen`` has not met (after a complete sweep)."""
        with self._store.transaction():
            self._store.db.execute(f"DELETE FROM history WHERE {seen.not_in('history')}")
