"""After an ambiguous create that landed: upload the rows again under fresh blob names.

The service then holds two submissions of each file: the lost one (its ID never reached us,
and the API cannot list submissions) and the new one, whose results the report carries. The
line says so in ``notes`` (code ``resubmitted_after_ambiguous_create``), naming the earlier
blob path so a person can find the first submission on the service if it matters.

A row is resubmitted at most once per run: its fresh name derives from the run ID and the
earlier blob path, so a second cut create of the same row ends ``submission_unconfirmed``
rather than looping.
"""

from __future__ import annotations

import anyio
from anyio.abc import ObjectSendStream

from batcher.context import RunContext
from batcher.errors import RowError
from batcher.outcome import Note, ReportLine, RowJob
from batcher.rows.naming import upload_filename
from batcher.upload.direct import upload_direct
from batcher.upload.presigned import upload_presigned

RESUBMITTED = "resubmitted_after_ambiguous_create"


def resubmitted(job: RowJob) -> bool:
    return any(note.code == RESUBMITTED for note in job.notes)


def _note(earlier: str | None) -> Note:
    return Note(
        code=RESUBMITTED,
        message=(
            "submitted again under a fresh blob name: the connection dropped after the service "
            f"accepted an earlier create of this file (blob {earlier}), whose submission ID "
            "never arrived; the service may also hold that earlier submission"
        ),
    )


async def upload_again(
    ctx: RunContext, jobs: list[RowJob], report: ObjectSendStream[ReportLine]
) -> list[RowJob]:
    """Upload each row under a fresh name; returns the rows ready to submit (the others are
    reported with their upload error)."""
    ready: list[RowJob] = []
    limit = anyio.CapacityLimiter(ctx.settings.upload_workers)

    async def one(job: RowJob) -> None:
        async with limit:
            earlier = job.blob_path
            # ``fresh`` naming with a per-resubmission token, whatever --rerun says: the
            # earlier name can never be submitted again.
            job.upload_filename = upload_filename(job, f"{ctx.run_id}:again:{earlier}", "fresh")
            job.blob_path = None
            job.create_ambiguous = False
            job.notes.append(_note(earlier))
            try:
                if job.upload_method == "direct":
                    await upload_direct(ctx, job)
                else:
                    await upload_presigned(ctx, job)
            except RowError as exc:
                await report.send(job.fail("upload", exc))
                return
            ctx.counters.bytes_uploaded += job.bytes_sent
            ctx.counters.files_uploaded += 1
            ctx.journal.rows.uploaded(job)
            ready.append(job)

    async with anyio.create_task_group() as tg:
        for job in jobs:
            tg.start_soon(one, job)
    return sorted(ready, key=lambda job: job.row)
