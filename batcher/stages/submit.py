"""Batch uploaded rows into submissions (E4) and hand them to the pollers.

A batch is flushed when it holds ``batch_size`` rows or its oldest row has waited
``batch_linger`` seconds, so the pipeline keeps moving while uploads go on.

The docs do not say a submission can be accepted in part, so a refusal (403/404/409/413/415/
422) is taken as refusing the whole batch: the batch is split in halves until the refused
rows stand alone; they are reported with the service's answer and the rest is submitted.

E4 is not idempotent. After an ambiguous failure (the connection dropped once the request
was sent, or the process died with the create in flight: journal state ``submitting``) the
same request is sent once more: its blob paths make a duplicate impossible, since a path can
be submitted only once. 201 means the first never landed; 409 means it probably did, under a
submission ID we never saw. Then the rows are reported ``submission_unconfirmed`` (never
resubmitted silently under new names, never lost).
"""

from __future__ import annotations

import logging

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from batcher.api.models import AssetRef, SubmissionCreated
from batcher.context import RunContext
from batcher.errors import AlreadySubmittedError, ApiError, RowError, TransportError
from batcher.logs import event
from batcher.outcome import ReportLine, RowJob, Ticket


def _unconfirmed(exc: ApiError) -> ApiError:
    return ApiError(
        "the connection dropped while creating the submission and the service now says this "
        "asset is already submitted: it probably holds it in a submission whose ID was lost. "
        "Not resubmitted, to avoid a duplicate; re-run with --fresh to submit it again.",
        code="submission_unconfirmed",
        http_status=exc.http_status,
    )


def _refs(batch: list[RowJob]) -> list[AssetRef]:
    refs = []
    for job in batch:
        assert job.blob_path is not None
        refs.append(
            AssetRef(blob_path=job.blob_path, previous_submission_id=job.previous_submission_id)
        )
    return refs


class Submitter:
    def __init__(
        self,
        ctx: RunContext,
        tickets: ObjectSendStream[Ticket],
        report: ObjectSendStream[ReportLine],
    ) -> None:
        self._ctx = ctx
        self._tickets = tickets
        self._report = report

    async def submit(self, batch: list[RowJob]) -> None:
        client = self._ctx.client
        delay = self._ctx.settings.simulation_delay
        self._ctx.journal.rows.submitting(batch)
        try:
            created = await client.create_submission(_refs(batch), simulation_delay=delay)
        except TransportError as exc:
            if exc.ambiguous and not all(job.create_ambiguous for job in batch):
                for job in batch:
                    job.create_ambiguous = True
                await self.submit(batch)
            else:
                await self._fail_all(batch, exc)
            return
        except ApiError as exc:
            if exc.retryable:  # retries spent
                await self._fail_all(batch, exc)
            elif len(batch) > 1:
                half = len(batch) // 2
                await self.submit(batch[:half])
                await self.submit(batch[half:])
            elif batch[0].create_ambiguous and isinstance(exc, AlreadySubmittedError):
                await self._fail_all(batch, _unconfirmed(exc))
            else:
                await self._report.send(batch[0].fail("submit", exc))
            return
        await self._accepted(batch, created)

    async def _accepted(self, batch: list[RowJob], created: SubmissionCreated) -> None:
        self._ctx.counters.submissions_created += 1
        self._ctx.counters.rows_submitted += len(batch)
        event(
            logging.INFO,
            "submission created",
            submissionId=created.submission_id,
            rows=[job.row for job in batch],
        )
        if len(created.assets) != len(batch):
            err = ApiError(
                f"submission {created.submission_id} lists {len(created.assets)} assets "
                f"for {len(batch)} sent",
                code="bad_response",
            )
            await self._fail_all(batch, err)
            return
        jobs: dict[str, RowJob] = {}
        for job, asset in zip(batch, created.assets, strict=True):
            job.submission_id = created.submission_id
            job.asset_id = asset.asset_id
            job.version_group_id = asset.version_group_id
            job.version_number = asset.version_number
            jobs[asset.asset_id] = job
        self._ctx.journal.rows.submitted(batch)
        await self._tickets.send(
            Ticket(created.submission_id, jobs, created_at=self._ctx.clock.now())
        )

    async def _fail_all(self, batch: list[RowJob], exc: RowError) -> None:
        for job in batch:
            await self._report.send(job.fail("submit", exc))


async def batch_stage(
    ctx: RunContext,
    uploaded: ObjectReceiveStream[RowJob],
    tickets: ObjectSendStream[Ticket],
    report: ObjectSendStream[ReportLine],
) -> None:
    size = ctx.settings.batch_size
    linger = ctx.settings.batch_linger
    async with uploaded, tickets, report:
        submitter = Submitter(ctx, tickets, report)
        batch: list[RowJob] = []
        first_at = 0.0
        while True:
            job: RowJob | None = None
            ended = False
            if batch:
                async with ctx.clock.move_on_after(max(0.0, first_at + linger - ctx.clock.now())):
                    try:
                        job = await uploaded.receive()
                    except anyio.EndOfStream:
                        ended = True
            else:
                try:
                    job = await uploaded.receive()
                except anyio.EndOfStream:
                    ended = True
            if job is not None:
                if not batch:
                    first_at = ctx.clock.now()
                batch.append(job)
            if ctx.stopping.is_set():
                batch = []  # journal state "uploaded": the next run submits them
            elif batch and (ended or job is None or len(batch) >= size):
                await submitter.submit(batch)
                batch = []
            if ended:
                return
