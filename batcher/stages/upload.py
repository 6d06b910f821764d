"""Upload workers: each row goes direct (≤ the cap) or presigned (SAS URL + blob protocol)."""

from __future__ import annotations

from anyio.abc import ObjectReceiveStream, ObjectSendStream

from batcher.context import RunContext
from batcher.errors import RowError
from batcher.outcome import ReportLine, RowJob
from batcher.upload.direct import upload_direct
from batcher.upload.presigned import upload_presigned


async def upload_worker(
    ctx: RunContext,
    jobs: ObjectReceiveStream[RowJob],
    uploaded: ObjectSendStream[RowJob],
    report: ObjectSendStream[ReportLine],
) -> None:
    async with jobs, uploaded, report:
        async for job in jobs:
            if ctx.stopping.is_set():
                continue  # drain: the journal lets the next run pick these up
            try:
                if job.upload_method == "direct":
                    await upload_direct(ctx, job)
                else:
                    await upload_presigned(ctx, job)
            except RowError as exc:
                ctx.counters.bytes_skipped += job.size or 0
                await report.send(job.fail("upload", exc))
                continue
            ctx.counters.bytes_uploaded += job.bytes_sent
            ctx.counters.files_uploaded += 1
            if job.upload_method == "presigned":
                # A crash before submission then skips re-sending a large file.
                ctx.journal.rows.uploaded(job)
            else:
                # Small files come in bursts: journaled in deferred commits, so a kill
                # re-sends at most the last burst, not every file not yet submitted.
                ctx.journal.rows.uploaded_soon(job)
            await uploaded.send(job)
