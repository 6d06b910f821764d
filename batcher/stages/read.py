"""The first stage: read the manifest, pre-flight each row, and send it on to the first
stage it still needs. On a resumed run that may be no stage at all (reported: its line is
replayed), polling (submitted), submitting (uploaded) or uploading (the rest; staged blocks
are skipped). With ``--incremental`` an unchanged row is carried from the history instead
(``stages/carry.py``), its line handed to the report writer directly (or, with
``--refresh-issues``, to ``stages/refresh.py`` first).

Rows are taken in chunks of ``state.seen.CHUNK``: the duplicate check (``state/seen.py``,
on disk) and the history lookups are then a few statements per chunk, not one per row.

The journal is looked up by the row's identity (``rows/identity.py``), never its number:
after rows were inserted or moved in the manifest each file still finds its own progress,
and its line carries the row number it has now.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anyio
from anyio.abc import ObjectSendStream
from anyio.lowlevel import checkpoint

from batcher.context import RunContext
from batcher.errors import ApiError, InputError
from batcher.outcome import ReportLine, RowJob, RowOrigin, Ticket
from batcher.rows.identity import PathResolver, identity_key, resolved_path
from batcher.rows.manifest import ManifestRow
from batcher.rows.preflight import check_row
from batcher.stages.carry import Decision, Sweep, carried_line, sha256_file
from batcher.stages.refresh import wants_refresh
from batcher.state.history import HistoryRecord
from batcher.state.journal import Journal
from batcher.state.rows import RowRecord, RowState
from batcher.state.seen import CHUNK, SeenTable


def replayed_line(record: RowRecord, row: ManifestRow) -> ReportLine:
    """A line finished earlier in this sweep, under the row's current number and columns."""
    assert record.line is not None
    earlier = ReportLine.model_validate_json(record.line)
    line = earlier.model_copy(
        update={"row": row.row, "path": row.path_text, "columns": row.columns}
    )
    return line.with_origin(RowOrigin(record.key, journal=False))


def recorded_line(
    journal: Journal, row: ManifestRow, base: Path, key_column: str | None
) -> ReportLine | None:
    """The journal's final line for ``row``, if it has one (for rows a stopped run never
    reached: their line is then the finished one, not a provisional one)."""
    if row.problem is not None:
        return None
    try:
        key = identity_key(row, resolved_path(row, base), key_column)
    except (InputError, OSError):
        return None
    record = journal.rows.get(key)
    if record is None or record.state is not RowState.REPORTED:
        return None
    return replayed_line(record, row)


class LineSink(Protocol):
    """The report writer, as the read stage uses it (``stages/report.py``)."""

    def write(self, line: ReportLine, *, flush: bool = True) -> None: ...

    def flush(self) -> None: ...


@dataclass
class _Row:
    """A row of a chunk, with what the batched lookups need."""

    row: ManifestRow
    resolved: str = ""
    key: str = ""
    problem: InputError | None = None
    first: int = 0
    """The first row with the same identity (``row.row`` itself if none before)."""


class RowRouter:
    def __init__(
        self,
        ctx: RunContext,
        jobs: ObjectSendStream[RowJob],
        uploaded: ObjectSendStream[RowJob],
        report: ObjectSendStream[ReportLine],
        sweep: Sweep | None,
        sink: LineSink | None = None,
        refresh: ObjectSendStream[ReportLine] | None = None,
    ) -> None:
        self._ctx = ctx
        self._refresh = refresh
        """``--refresh-issues``: where carried complete lines go to be fetched again."""
        self._jobs = jobs
        self._uploaded = uploaded
        self._report = report
        self._sink = sink
        """The report writer itself, for carried lines (no hop through the report stream)."""
        self._sweep = sweep
        self._resolver = PathResolver(ctx.manifest_dir)
        # Identities met, on disk (state/seen.py): duplicates, and for a sweep what was
        # removed. By default the identity is the path, so one table does both.
        db = ctx.journal.store.db
        self._keys = sweep.keys if sweep is not None else SeenTable(db, "seen_keys")
        self._paths = SeenTable(db, "seen_paths") if ctx.settings.key_column else None
        self.resumed: dict[str, dict[str, RowJob]] = {}

    def _prepare(self, rows: list[ManifestRow]) -> tuple[list[_Row], dict[str, HistoryRecord]]:
        """Identities, duplicates and history of a chunk of rows, a few statements each."""
        prepared = [_Row(row) for row in rows]
        named: list[_Row] = []
        for p in prepared:
            if p.row.problem is not None:
                continue  # no identity: redone every run
            p.resolved = self._resolver.resolve(p.row)
            try:
                p.key = identity_key(p.row, p.resolved, self._ctx.settings.key_column)
            except InputError as exc:
                p.problem = exc
                continue
            named.append(p)
        # The key first: a row refused for its key leaves its file free for another row.
        firsts = self._keys.first_many([(p.key, p.row.row) for p in named])
        column = self._ctx.settings.key_column
        by_path: list[_Row] = []
        for p, first in zip(named, firsts, strict=True):
            p.first = first
            if first != p.row.row and self._paths is not None:
                p.problem = InputError(
                    f"same {column} as row {first}; not sent twice", code="duplicate_key"
                )
            elif first != p.row.row:
                p.problem = InputError(
                    f"same file as row {first}; not sent twice", code="duplicate_row"
                )
            elif self._paths is not None:
                by_path.append(p)
        if self._paths is not None:
            path_firsts = self._paths.first_many([(p.resolved, p.row.row) for p in by_path])
            for p, first in zip(by_path, path_firsts, strict=True):
                if first != p.row.row:
                    p.problem = InputError(
                        f"same file as row {first}; not sent twice", code="duplicate_row"
                    )
        history: dict[str, HistoryRecord] = {}
        if self._sweep is not None:
            history = self._sweep.history.get_many([p.key for p in named if p.problem is None])
        return prepared, history

    def _settle(self) -> None:
        """Before anything that may wait: carried lines written so far reach the file."""
        if self._sink is not None:
            self._sink.flush()

    async def _refuse(self, row: ManifestRow, problem: InputError, path: Path | None) -> None:
        job = RowJob(row=row.row, path_text=row.path_text, columns=row.columns, path=path)
        if path is not None:
            with contextlib.suppress(OSError):  # the size is for the summary only
                job.size = os.stat(path).st_size
        self._ctx.counters.bytes_skipped += job.size or 0
        await self._report.send(job.fail("preflight", problem))

    async def route_many(self, rows: list[ManifestRow]) -> int:
        """Route a chunk of rows in order; the number routed (fewer if the run is stopping)."""
        prepared, history = self._prepare(rows)
        for n, p in enumerate(prepared):
            if self._ctx.stopping.is_set():
                self._settle()
                return n
            self._ctx.counters.rows_read += 1
            await self._route(p, history.get(p.key))
        self._settle()
        await checkpoint()  # carried rows await nothing: let others run
        return len(prepared)

    async def _route(self, p: _Row, hist: HistoryRecord | None) -> None:
        ctx, row = self._ctx, p.row
        if row.problem is not None or p.problem is not None:
            self._settle()
        if row.problem is not None:
            await self._refuse(row, row.problem, None)
            return
        if p.problem is not None:
            # A duplicate names its file (the key is the first row's); a bad key has none.
            await self._refuse(row, p.problem, Path(p.resolved) if p.first else None)
            return
        resolved, key = p.resolved, p.key
        record = ctx.journal.rows.get(key)
        if record is not None and record.state is RowState.REPORTED:
            ctx.counters.bytes_skipped += record.size or 0
            if self._sweep is not None:
                self._sweep.counts[Decision.RESUMED] += 1
            self._settle()
            await self._report.send(replayed_line(record, row))
            return
        decision, sha = None, None
        if self._sweep is not None:
            try:
                st = os.stat(resolved)
            except OSError:
                st = None  # pre-flight says why
            if st is not None:
                if self._sweep.checksum:
                    self._settle()
                    sha = await anyio.to_thread.run_sync(sha256_file, Path(resolved))
                decision = self._sweep.decide(hist, st.st_size, st.st_mtime_ns, sha)
                if decision is Decision.CARRIED and record is None and hist is not None:
                    self._sweep.counts[decision] += 1
                    ctx.counters.bytes_skipped += st.st_size
                    line = carried_line(hist, row)
                    if self._refresh is not None and wants_refresh(line):
                        self._settle()
                        await self._refresh.send(line)
                    elif self._sink is not None:
                        self._sink.write(line, flush=False)
                    else:
                        await self._report.send(line)
                    return
        self._settle()
        job, problem = check_row(row, ctx.manifest_dir, ctx.settings)
        job.identity = Path(resolved)
        job.key = key
        job.sha256 = sha
        if problem is not None:
            ctx.counters.bytes_skipped += job.size or 0
            await self._report.send(job.fail("preflight", problem))
            return
        if self._sweep is not None:
            decision = decision or Decision.NEW
            self._sweep.counts[decision] += 1
            self._sweep.upload_bytes += job.size or 0
            if hist is not None and hist.submission_id and not job.previous_submission_id:
                job.previous_submission_id = hist.submission_id  # the next version
                job.expected_version_group_id = hist.version_group_id
        await self._resume_or_send(job, record)

    async def _resume_or_send(self, job: RowJob, record: RowRecord | None) -> None:
        ctx = self._ctx
        if record is None or not record.same_file(job):
            await self._jobs.send(job)  # new, or changed since: upload (again)
            return
        record.restore(job)
        if record.state is not RowState.CHECKED:
            ctx.counters.bytes_skipped += job.size or 0  # uploaded in an earlier run
        if record.state is RowState.SUBMITTED and job.submission_id and job.asset_id:
            assets = self.resumed.setdefault(job.submission_id, {})
            other = assets.get(job.asset_id)
            if other is not None:  # never two rows under one asset: one would vanish
                error = ApiError(
                    f"the journal gives row {other.row} the same asset {job.asset_id}",
                    code="bad_response",
                )
                await self._report.send(job.fail("poll", error))
                return
            assets[job.asset_id] = job
        elif record.state in (RowState.UPLOADED, RowState.SUBMITTING) and job.blob_path:
            if record.state is RowState.SUBMITTING:
                job.create_ambiguous = True  # the create was in flight when we stopped
            await self._uploaded.send(job)
        else:
            await self._jobs.send(job)  # staged blocks are skipped by the uploader


async def read_stage(
    ctx: RunContext,
    rows: Iterator[ManifestRow],
    jobs: ObjectSendStream[RowJob],
    uploaded: ObjectSendStream[RowJob],
    tickets: ObjectSendStream[Ticket],
    report: ObjectSendStream[ReportLine],
    sweep: Sweep | None = None,
    sink: LineSink | None = None,
    refresh: ObjectSendStream[ReportLine] | None = None,
) -> None:
    """Pre-flight each row and send it to the first stage it still needs (resume).

    Rows go in chunks of ``CHUNK`` so that the duplicate check and the history lookups are a
    few statements per chunk, not one per row. ``sink``: the report writer, which carried
    lines are handed to directly (it is synchronous; the stream would only add a hop)."""
    async with jobs, uploaded, tickets, report, refresh or contextlib.nullcontext():
        router = RowRouter(ctx, jobs, uploaded, report, sweep, sink, refresh)
        rows = iter(rows)
        while not ctx.stopping.is_set():
            chunk = list(itertools.islice(rows, CHUNK))
            if not chunk or await router.route_many(chunk) < len(chunk):
                break
        now = ctx.clock.now()
        for submission_id, assets in router.resumed.items():
            await tickets.send(Ticket(submission_id, assets, created_at=now, resumed=True))
