"""The first stage: read the manifest, pre-flight each row, and send it on to the first
stage it still needs. On a resumed run that may be no stage at all (reported), polling
(submitted), submitting (uploaded) or uploading (the rest; staged blocks are skipped)."""

from __future__ import annotations

from collections.abc import Iterator

from anyio.abc import ObjectSendStream

from batcher.context import RunContext
from batcher.errors import ApiError, InputError
from batcher.outcome import ReportLine, RowJob, Ticket
from batcher.rows.manifest import ManifestRow
from batcher.rows.preflight import check_row
from batcher.rows.rowset import FirstSeen
from batcher.state.rows import RowState


async def read_stage(
    ctx: RunContext,
    rows: Iterator[ManifestRow],
    jobs: ObjectSendStream[RowJob],
    uploaded: ObjectSendStream[RowJob],
    tickets: ObjectSendStream[Ticket],
    report: ObjectSendStream[ReportLine],
) -> None:
    """Pre-flight each row and send it to the first stage it still needs (resume)."""
    seen = FirstSeen()
    resumed: dict[str, dict[str, RowJob]] = {}
    async with jobs, uploaded, tickets, report:
        for row in rows:
            if ctx.stopping.is_set():
                break
            ctx.counters.rows_read += 1
            record = ctx.journal.rows.get(row.row)
            if record is not None and record.path_text == row.path_text:
                if record.state is RowState.REPORTED:
                    ctx.counters.bytes_skipped += record.size or 0
                    continue  # finished in an earlier run; its line was replayed
            else:
                record = None  # a different manifest row under this number: start over
            job, problem = check_row(row, ctx.manifest_dir, ctx.settings)
            if problem is None and job.path is not None:
                job.identity = job.path.resolve()
                first = seen.first(str(job.identity), job.row)
                if first != job.row:
                    problem = InputError(
                        f"same file as row {first}; not sent twice", code="duplicate_row"
                    )
            if problem is not None:
                ctx.counters.bytes_skipped += job.size or 0
                await report.send(job.fail("preflight", problem))
                continue
            if record is None or not record.same_file(job):
                await jobs.send(job)  # new, or changed since: upload (again)
                continue
            record.restore(job)
            if record.state is not RowState.CHECKED:
                ctx.counters.bytes_skipped += job.size or 0  # uploaded in an earlier run
            if record.state is RowState.SUBMITTED and job.submission_id and job.asset_id:
                assets = resumed.setdefault(job.submission_id, {})
                other = assets.get(job.asset_id)
                if other is not None:  # never two rows under one asset: one would vanish
                    error = ApiError(
                        f"the journal gives row {other.row} the same asset {job.asset_id}",
                        code="bad_response",
                    )
                    await report.send(job.fail("poll", error))
                    continue
                assets[job.asset_id] = job
            elif record.state in (RowState.UPLOADED, RowState.SUBMITTING) and job.blob_path:
                if record.state is RowState.SUBMITTING:
                    job.create_ambiguous = True  # the create was in flight when we stopped
                await uploaded.send(job)
            else:
                await jobs.send(job)  # staged blocks are skipped by the uploader
        now = ctx.clock.now()
        for submission_id, assets in resumed.items():
            await tickets.send(Ticket(submission_id, assets, created_at=now, resumed=True))
