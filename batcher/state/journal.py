"""The resume journal: an embedded SQLite database (WAL) recording each row's progress.

One table row per manifest row, updated in place as the row advances
(``checked → uploaded → submitting → submitted → reported``), plus the staged blocks of
files being uploaded (deleted once committed). Its size is therefore proportional to the
manifest, never to retries or time (AzCopy's plan files grow without bound).

WAL with ``synchronous=NORMAL``: a committed transaction survives the process being killed
at any moment (``kill -9``); only an OS crash or power cut may lose the last transactions,
which the next run then redoes (uploads are idempotent; see ``stages/submit.py`` for the
one step that is not).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batcher.errors import UsageError
from batcher.outcome import ReportLine, RowJob

SCHEMA_VERSION = "1"
DEFER_ROWS = 256
DEFER_SECONDS = 0.25
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    row INTEGER PRIMARY KEY,
    path_text TEXT NOT NULL,
    size INTEGER, mtime_ns INTEGER,
    state TEXT NOT NULL,
    upload_method TEXT, upload_filename TEXT, content_type TEXT, blob_path TEXT,
    submission_id TEXT, asset_id TEXT, version_group_id TEXT, version_number INTEGER,
    asset_retries INTEGER NOT NULL DEFAULT 0,
    line TEXT
);
CREATE TABLE IF NOT EXISTS blocks (
    key TEXT NOT NULL, block_id TEXT NOT NULL, size INTEGER NOT NULL,
    PRIMARY KEY (key, block_id)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class RowRecord:
    row: int
    path_text: str
    size: int | None
    mtime_ns: int | None
    state: str
    upload_method: str | None
    upload_filename: str | None
    content_type: str | None
    blob_path: str | None
    submission_id: str | None
    asset_id: str | None
    version_group_id: str | None
    version_number: int | None
    asset_retries: int
    line: str | None

    def same_file(self, job: RowJob) -> bool:
        return (self.size, self.mtime_ns) == (job.size, job.mtime_ns)

    def restore(self, job: RowJob) -> None:
        """Put what earlier runs achieved back on a freshly checked job."""
        job.upload_filename = self.upload_filename
        job.blob_path = self.blob_path
        job.submission_id = self.submission_id
        job.asset_id = self.asset_id
        job.version_group_id = self.version_group_id
        job.version_number = self.version_number
        job.asset_retries = self.asset_retries


_COLUMNS = (
    "row",
    "path_text",
    "size",
    "mtime_ns",
    "state",
    "upload_method",
    "upload_filename",
    "content_type",
    "blob_path",
    "submission_id",
    "asset_id",
    "version_group_id",
    "version_number",
    "asset_retries",
    "line",
)
_UPSERT = (
    f"INSERT OR REPLACE INTO rows ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)})"
)


class Journal:
    """Also a ``StagedBlockStore`` (``staged``/``record``/``forget``) for block-level resume."""

    def __init__(self, path: Path, *, fresh: bool = False) -> None:
        self.path = path
        self._deferred = 0
        self._deferred_since = 0.0
        if fresh:
            self._delete()
        existed = path.exists()
        self._db = self._connect()
        if existed and not fresh and self._meta("completed") == "1":
            # The last run over this report ended: this is the next sweep, not a resume.
            self._db.close()
            self._delete()
            existed = False
            self._db = self._connect()
        version = self._meta("schema")
        if existed and version not in (None, SCHEMA_VERSION):
            raise UsageError(f"{path} is a journal of another batcher version; use --fresh")
        self._set_meta("schema", SCHEMA_VERSION)
        run_id = self._meta("run_id")
        self.resumed = run_id is not None and self._count() > 0
        if run_id is None:
            run_id = uuid.uuid4().hex
            self._set_meta("run_id", run_id)
        self.run_id: str = run_id

    # -- meta ------------------------------------------------------------------------------

    def _delete(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise UsageError(f"cannot open the journal {self.path}: {exc}") from None
        return db

    def record_manifest(self, manifest: Path) -> None:
        """For ``batcher retry``: which manifest this report's rows are numbered in."""
        self._set_meta("manifest", str(manifest))

    def mark_completed(self) -> None:
        """Every row reached a final line: the next run over this report starts afresh."""
        self._set_meta("completed", "1")

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self.commit()
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM rows").fetchone()[0])

    # -- rows ------------------------------------------------------------------------------

    def get(self, row: int) -> RowRecord | None:
        if not self.resumed:
            return None  # a new run: nothing to look up (saves a query per row)
        cur = self._db.execute("SELECT * FROM rows WHERE row = ?", (row,))
        found = cur.fetchone()
        return None if found is None else RowRecord(*found)

    def _upsert(self, job: RowJob, state: str, line: str | None = None) -> None:
        self._db.execute(
            _UPSERT,
            (
                job.row,
                job.path_text,
                job.size,
                job.mtime_ns,
                state,
                job.upload_method,
                job.upload_filename,
                job.content_type,
                job.blob_path,
                job.submission_id,
                job.asset_id,
                job.version_group_id,
                job.version_number,
                job.asset_retries,
                line,
            ),
        )

    def checked(self, job: RowJob) -> None:
        self.commit()
        self._upsert(job, "checked")

    def uploaded(self, job: RowJob) -> None:
        self.commit()
        self._upsert(job, "uploaded")

    def submitting(self, jobs: list[RowJob]) -> None:
        """Written before E4 is sent: a crash now leaves the create ambiguous."""
        with self.transaction():
            for job in jobs:
                self._upsert(job, "submitting")

    def submitted(self, jobs: list[RowJob]) -> None:
        with self.transaction():
            for job in jobs:
                self._upsert(job, "submitted")

    def retried(self, job: RowJob) -> None:
        self.commit()
        self._upsert(job, "submitted")

    def reported(self, line: ReportLine, text: str) -> None:
        """``text`` is the line as written to the report (serialised once, by the writer).

        Deferred: committed with up to ``DEFER_ROWS`` others or after ``DEFER_SECONDS``, or
        before any other write. A commit per line was the largest single cost of big runs;
        losing the last few on a crash only means those rows are polled again next run.
        """
        if not self._db.in_transaction:
            self._db.execute("BEGIN")
            self._deferred_since = time.monotonic()
        self._upsert(RowJob(row=line.row, path_text=line.path, columns={}), "reported", text)
        self._deferred += 1
        if self._deferred >= DEFER_ROWS or time.monotonic() - self._deferred_since >= DEFER_SECONDS:
            self.commit()

    def commit(self) -> None:
        """Make deferred writes durable (done before every other write and on close)."""
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self._deferred = 0

    def finished_lines(self) -> Iterator[tuple[int, str]]:
        cur = self._db.execute("SELECT row, line FROM rows WHERE state = 'reported' ORDER BY row")
        for row, line in cur:
            yield int(row), str(line)

    def reported_line(self, row: int) -> dict[str, Any] | None:
        rec = self.get(row)
        if rec is None or rec.line is None:
            return None
        value: dict[str, Any] = json.loads(rec.line)
        return value

    # -- staged blocks (StagedBlockStore) --------------------------------------------------

    def staged(self, key: str) -> set[str]:
        cur = self._db.execute("SELECT block_id FROM blocks WHERE key = ?", (key,))
        return {str(r[0]) for r in cur}

    def record(self, key: str, block_id: str, size: int) -> None:
        self.commit()
        self._db.execute(
            "INSERT OR REPLACE INTO blocks (key, block_id, size) VALUES (?, ?, ?)",
            (key, block_id, size),
        )

    def forget(self, key: str) -> None:
        self.commit()
        self._db.execute("DELETE FROM blocks WHERE key = ?", (key,))

    # -- plumbing --------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One commit for several writes, after the deferred ones."""
        self.commit()
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def statistics(self) -> dict[str, int]:
        cur = self._db.execute("SELECT state, count(*) FROM rows GROUP BY state")
        return {str(state): int(n) for state, n in cur}

    def close(self) -> None:
        self.commit()
        self._db.close()
