"""The row state machine: one journal row per manifest row, updated in place as it advances.

Keyed by the row's identity (``RowJob.key``), so an edited manifest (a row inserted, rows
reordered) still finds each file's progress; ``row`` is where the file was last seen.

    CHECKED ─► UPLOADED ─► SUBMITTING ─► SUBMITTED ─► REPORTED
       (presigned only:        (E4 in flight:    (E9 retries stay
        the name survives)      ambiguous)         SUBMITTED)

Its size is therefore proportional to the manifest, never to retries or time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from batcher.outcome import Note, ReportLine, RowJob
from batcher.state.store import JournalStore

DEFER_ROWS = 256
DEFER_SECONDS = 0.25


class RowState(StrEnum):
    CHECKED = "checked"
    """Presigned row named (block ids derive from the name): a crash resumes its blocks."""
    UPLOADED = "uploaded"
    """Bytes on the service, blob path known: the next run submits without re-uploading."""
    SUBMITTING = "submitting"
    """E4 sent, answer not yet seen: a crash now leaves the create ambiguous."""
    SUBMITTED = "submitted"
    """Submission and asset IDs known: the next run polls, never resubmits."""
    REPORTED = "reported"
    """Final line written: the next run replays it."""


@dataclass(frozen=True)
class RowRecord:
    key: str
    row: int
    path_text: str
    size: int | None
    mtime_ns: int | None
    state: RowState
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
    notes: str | None
    """JSON list of the row's ``Note``s (a resubmission survives a crash to its line)."""

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
        job.notes = [Note.model_validate(n) for n in json.loads(self.notes or "[]")]


_COLUMNS = (
    "key",
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
    "notes",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM rows WHERE key = ?"
_STATE = _COLUMNS.index("state")
_UPSERT = (
    f"INSERT OR REPLACE INTO rows ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)})"
)


class RowStates:
    def __init__(self, store: JournalStore) -> None:
        self._store = store
        self._deferred = 0
        self._deferred_since = 0.0
        self.on_reported: Callable[[ReportLine, str], None] | None = None
        """Told of each journaled final line inside its transaction (the sweep history)."""

    def get(self, key: str) -> RowRecord | None:
        if not self._store.resumed:
            return None  # a new run: nothing to look up (saves a query per row)
        found = self._store.db.execute(_SELECT, (key,)).fetchone()
        if found is None:
            return None
        values = list(found)
        values[_STATE] = RowState(values[_STATE])
        return RowRecord(*values)

    def _upsert(self, job: RowJob, state: RowState, line: str | None = None) -> None:
        assert job.key is not None  # rows without an identity are never journaled
        self._store.db.execute(
            _UPSERT,
            (
                job.key,
                job.row,
                job.path_text,
                job.size,
                job.mtime_ns,
                state.value,
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
                json.dumps([n.model_dump() for n in job.notes]) if job.notes else None,
            ),
        )

    def _commit(self) -> None:
        self._store.commit()
        self._deferred = 0

    def checked(self, job: RowJob) -> None:
        self._commit()
        self._upsert(job, RowState.CHECKED)

    def uploaded(self, job: RowJob) -> None:
        self._commit()
        self._upsert(job, RowState.UPLOADED)

    def uploaded_soon(self, job: RowJob) -> None:
        """A direct upload: deferred like finished lines, so journaling every small file
        costs no commit each, and a kill re-sends at most the last burst."""
        self._defer()
        self._upsert(job, RowState.UPLOADED)
        self._count_deferred()

    def submitting(self, jobs: list[RowJob]) -> None:
        """Written before E4 is sent: a crash now leaves the create ambiguous."""
        self._deferred = 0
        with self._store.transaction():
            for job in jobs:
                self._upsert(job, RowState.SUBMITTING)

    def submitted(self, jobs: list[RowJob]) -> None:
        self._deferred = 0
        with self._store.transaction():
            for job in jobs:
                self._upsert(job, RowState.SUBMITTED)

    def retried(self, job: RowJob) -> None:
        self._commit()
        self._upsert(job, RowState.SUBMITTED)

    def reported(self, line: ReportLine, text: str) -> None:
        """``text`` is the line as written to the report (serialised once, by the writer).

        Deferred: committed with up to ``DEFER_ROWS`` others or after ``DEFER_SECONDS``, or
        before any other write. A commit per line was the largest single cost of big runs;
        losing the last few on a crash only means those rows are polled again next run.
        """
        origin = line.origin
        if origin is None or origin.key is None or not origin.journal:
            return  # no identity (a manifest problem, redone each run), or already on record
        self._defer()
        job = RowJob(
            row=line.row,
            path_text=line.path,
            columns={},
            key=origin.key,
            size=line.bytes,
            mtime_ns=origin.mtime_ns,
        )
        self._upsert(job, RowState.REPORTED, text)
        if self.on_reported is not None:
            self.on_reported(line, text)
        self._count_deferred()

    def _defer(self) -> None:
        if self._store.begin_deferred():
            self._deferred_since = self._store.now()

    def _count_deferred(self) -> None:
        self._deferred += 1
        if (
            self._deferred >= DEFER_ROWS
            or self._store.now() - self._deferred_since >= DEFER_SECONDS
        ):
            self._commit()

    def commit(self) -> None:
        self._commit()

    def statistics(self) -> dict[RowState, int]:
        cur = self._store.db.execute("SELECT state, count(*) FROM rows GROUP BY state")
        return {RowState(state): int(n) for state, n in cur}

    def open_submissions(self) -> int:
        """Submissions with rows still waiting for results (what a resumed run polls)."""
        cur = self._store.db.execute(
            "SELECT count(DISTINCT submission_id) FROM rows WHERE state = ?",
            (RowState.SUBMITTED.value,),
        )
        return int(cur.fetchone()[0])
