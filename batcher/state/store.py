"""The journal's storage: one SQLite database (WAL), its schema, its meta table, and commits.

WAL with ``synchronous=NORMAL``: a committed transaction survives the process being killed
at any moment (``kill -9``); only an OS crash or power cut may lose the last transactions,
which the next run then redoes (uploads are idempotent; see ``stages/submit.py`` for the
one step that is not).

Rows are keyed by identity (``rows/identity.py``), not row number: a row inserted above
others in the manifest does not make the journal mistake them for each other. The
``history`` table (``state/history.py``) outlives sweeps and ``--fresh``; a new sweep or
``--fresh`` only clears the sweep's own tables.

Writes of finished rows are *deferred* (committed in bursts, see ``rows.RowStates.reported``);
every other write commits the deferred ones first, so states land in the order they happened.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from batcher.errors import UsageError
from batcher.localio import disk_error, local_write

SCHEMA_VERSION = "2"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    key TEXT PRIMARY KEY,
    row INTEGER NOT NULL,
    path_text TEXT NOT NULL,
    size INTEGER, mtime_ns INTEGER,
    state TEXT NOT NULL,
    upload_method TEXT, upload_filename TEXT, content_type TEXT, blob_path TEXT,
    submission_id TEXT, asset_id TEXT, version_group_id TEXT, version_number INTEGER,
    asset_retries INTEGER NOT NULL DEFAULT 0,
    line TEXT,
    notes TEXT
);
CREATE TABLE IF NOT EXISTS blocks (
    key TEXT NOT NULL, block_id TEXT NOT NULL, size INTEGER NOT NULL,
    PRIMARY KEY (key, block_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
    key TEXT PRIMARY KEY,
    path_text TEXT NOT NULL,
    size INTEGER, mtime_ns INTEGER, sha256 TEXT,
    submission_id TEXT, asset_id TEXT, version_group_id TEXT, version_number INTEGER,
    status TEXT NOT NULL,
    carry INTEGER NOT NULL,
    line TEXT NOT NULL,
    reviewed_at TEXT NOT NULL,
    sweep TEXT NOT NULL
);
"""
# What a new sweep (or --fresh) forgets; ``history`` is kept.
_SWEEP_TABLES = ("rows", "blocks")
_SWEEP_META = ("run_id", "completed", "started_at")


class GuardedConnection:
    """The journal's connection: every statement runs under ``local_write``, so a full disk
    (or ``max_page_count``) or a failing device is a DiskFullError naming the journal, from
    whichever write meets it."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self._path = path

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        with local_write(self._path, "journal"):
            return self._db.execute(sql, params)

    def executemany(self, sql: str, params: Iterable[tuple[object, ...]]) -> sqlite3.Cursor:
        with local_write(self._path, "journal"):
            return self._db.executemany(sql, params)

    @property
    def in_transaction(self) -> bool:
        return self._db.in_transaction

    def close(self) -> None:
        """Close even when the last commit failed: what was not committed is redone by the
        next run (the journal's contract), and a half-open connection helps no one."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
        self._db.close()


class JournalStore:
    """The connection and its transactions. ``now`` is the monotonic clock deferred commits
    are timed with (the run's clock, so tests can drive it)."""

    def __init__(self, path: Path, *, fresh: bool, now: Callable[[], float]) -> None:
        self.path = path
        self.now = now
        self._closed = False
        if fresh and path.exists() and _schema_of(path) not in (None, SCHEMA_VERSION):
            self._delete()  # another version's journal: nothing in it can be read
        existed = path.exists()
        self.db = GuardedConnection(self._connect(), path)
        version = self.meta("schema")
        if existed and version not in (None, SCHEMA_VERSION):
            self.db.close()
            raise UsageError(f"{path} is a journal of another batcher version; use --fresh")
        if fresh or self.meta("completed") == "1":
            # --fresh, or the last run over this report ended: the next sweep, not a resume.
            self.new_sweep()
        self.set_meta("schema", SCHEMA_VERSION)
        run_id = self.meta("run_id")
        self.resumed = run_id is not None and self.count_rows() > 0
        if run_id is None:
            run_id = uuid.uuid4().hex
            self.set_meta("run_id", run_id)
        self.run_id: str = run_id
        if self.meta("started_at") is None:
            self.set_meta("started_at", datetime.now(UTC).isoformat(timespec="seconds"))

    def new_sweep(self) -> None:
        """Forget the sweep in progress (rows, staged blocks, run ID); keep the history."""
        with self.transaction():
            for table in _SWEEP_TABLES:
                self.db.execute(f"DELETE FROM {table}")
            for key in _SWEEP_META:
                self.db.execute("DELETE FROM meta WHERE key = ?", (key,))

    def _delete(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            columns = {str(r[1]) for r in db.execute("PRAGMA table_info(rows)")}
            if "notes" not in columns:  # a journal from before notes: the column is added
                db.execute("ALTER TABLE rows ADD COLUMN notes TEXT")
        except sqlite3.Error as exc:
            full = disk_error(exc, self.path, "journal")
            if full is not None:
                raise full from None
            raise UsageError(f"cannot open the journal {self.path}: {exc}") from None
        return db

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.commit()
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def count_rows(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM rows").fetchone()[0])

    def begin_deferred(self) -> bool:
        """Open the deferred transaction if none is open; True if this call opened it."""
        if self.db.in_transaction:
            return False
        self.db.execute("BEGIN")
        return True

    def commit(self) -> None:
        """Make deferred writes durable (done before every other write and on close)."""
        if self.db.in_transaction:
            self.db.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One commit for several writes, after the deferred ones."""
        self.commit()
        self.db.execute("BEGIN")
        try:
            yield
        except BaseException:
            # SQLite may have rolled back already (a full disk does): only undo what is open.
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        """Commit and close; closing twice is harmless (cleanup paths may overlap)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.commit()
        finally:
            self.db.close()


def _schema_of(path: Path) -> str | None:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return "unreadable"
    return None if row is None else str(row[0])
