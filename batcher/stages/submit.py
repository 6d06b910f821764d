"""Batch uploaded rows into submissions (E4) and hand them to the pollers.

A batch is flushed when it holds ``batch_size`` rows or its oldest row has waited
``batch_linger`` seconds, so the pipeline keeps moving while uploads go on.

The docs do not say a submission can be accepted in part, so a refusal (403/404/409/413/415/
422) is taken as refusing the whole batch: the batch is split in halves until the refused
rows stand alone; they are reported with the service's answer and the rest is submitted.

E4 is not idempotent. After an ambiguous failure (the connection dropped once the request
was sent, or the process died with the create in flight: journal state ``submitting``) the
same request is sent once more: its blob paths make a duplicate impossible, since a path can
be submitted only once. 201 means the first never landed. 409 ``Asset already submitted``
means it did, under a submission ID we never saw: that 409 is explained, so the batch is
not split to find a culprit. By default (``on_ambiguous_create="resubmit"``) its rows are
uploaded again under fresh blob names and submitted, and their lines carry a note saying
so (``stages/resubmit.py``); with ``"report"`` they are reported ``submission_unconfirmed``.

An answer that does not fit what was sent is a ``bad_response`` error, nothing is guessed:
a wrong count fails the whole batch; an asset ID given twice (or empty) fails the rows it
was given for, since which row it belongs to cannot be told.
"""

from __future__ import annotations

import logging
from collections import Counter

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from batcher.api.models import AssetRef, SubmissionCreated
from batcher.context import RunContext
from batcher.errors import AlreadySubmittedError, ApiError, RowError, TransportError
from batcher.logs import event
from batcher.outcome import ReportLine, RowJob, Ticket
from batcher.stages.carry import note_broken_chain
from batcher.stages.resubmit import resubmitted, upload_again


def _unconfirmed(exc: ApiError) -> ApiError:
    return ApiError(
        "the connection dropped while creating the submission and the service now says this "
        "asset is already submitted: it holds it in a submission whose ID was lost. "
        "Not resubmitted (--on-ambiguous-create report, or resubmitted once already); "
        "re-run with --fresh to submit it again.",
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
        if not batch:
            return
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
                return
            if not exc.ambiguous:
                self._not_created(batch)
            await self._fail_all(batch, exc)
            return
        except ApiError as exc:
            await self._refused(batch, exc)
            return
        await self._accepted(batch, created)

    async def _refused(self, batch: list[RowJob], exc: ApiError) -> None:
        if exc.retryable:  # retries spent on an answer that means "not done"
            self._not_created(batch)
            await self._fail_all(batch, exc)
            return
        if isinstance(exc, AlreadySubmittedError):
            cut = [job for job in batch if job.create_ambiguous]
            if cut and len(cut) < len(batch):
                # Rows of a lost create beside new ones: ask about each group on its own.
                await self.submit([job for job in batch if not job.create_ambiguous])
                await self.submit(cut)
                return
            if cut:
                await self._lost_create(batch, exc)
                return
        if len(batch) > 1:
            half = len(batch) // 2
            await self.submit(batch[:half])
            await self.submit(batch[half:])
        else:
            await self._report.send(batch[0].fail("submit", exc))

    async def _lost_create(self, batch: list[RowJob], exc: ApiError) -> None:
        """The resend of a cut create met 409: the cut create landed, for the whole batch."""
        if self._ctx.settings.on_ambiguous_create == "report":
            again, stay = [], batch
        else:
            again = [job for job in batch if not resubmitted(job)]
            stay = [job for job in batch if resubmitted(job)]
        await self._fail_all(stay, _unconfirmed(exc))
        if again:
            event(logging.INFO, "resubmitting after a lost create", rows=[j.row for j in again])
            await self.submit(await upload_again(self._ctx, again, self._report))

    def _not_created(self, batch: list[RowJob]) -> None:
        """This create surely did not land: the journal goes back to "uploaded", so a next
        run submits these rows plainly instead of treating the create as ambiguous. Not rows
        whose *earlier* create was cut: that one may have landed, which the next run must
        still know."""
        for job in batch:
            if not job.create_ambiguous:
                self._ctx.journal.rows.uploaded(job)

    async def _accepted(self, batch: list[RowJob], created: SubmissionCreated) -> None:
        self._ctx.counters.submissions_created += 1
        self._ctx.counters.rows_submitted += len(batch)
        event(
            logging.INFO,
            "submission created",
            submissionId=created.submission_id,
            rows=[job.row for job in batch],
        )
        for job in batch:
            job.submission_id = created.submission_id
        if len(created.assets) != len(batch):
            err = ApiError(
                f"submission {created.submission_id} lists {len(created.assets)} assets "
                f"for {len(batch)} sent",
                code="bad_response",
            )
            await self._fail_all(batch, err)
            return
        counts = Counter(asset.asset_id for asset in created.assets)
        jobs: dict[str, RowJob] = {}
        for job, asset in zip(batch, created.assets, strict=True):
            if not asset.asset_id or counts[asset.asset_id] > 1:
                # Which of the rows an ID twice belongs to cannot be told: none gets it.
                what = "no asset ID" if not asset.asset_id else f"asset ID {asset.asset_id} twice"
                err = ApiError(
                    f"submission {created.submission_id} answered {what} for this batch",
                    code="bad_response",
                )
                await self._report.send(job.fail("submit", err))
                continue
            job.asset_id = asset.asset_id
            job.version_group_id = asset.version_group_id
            job.version_number = asset.version_number
            note_broken_chain(job)  # journaled with the row: survives a crash to its line
            jobs[asset.asset_id] = job
        if not jobs:
            return
        fitted = list(jobs.values())
        self._ctx.journal.rows.submitted(fitted)
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
