"""A bounded pool of pollers: E5 per submission, E6 per finished asset, E9 for retryable failures.

Submissions wait in a schedule ordered by their next poll time, so ``workers`` pollers serve
any number of submissions and none sits idle on a sleeping one. The interval starts at
``poll.initial`` (the docs' sample loop uses 5 s) and grows by ``poll.multiplier`` up to
``poll.max_interval`` (the docs recommend backing off for long jobs).

With webhooks on, an event wakes its submission's ticket (``PollSchedule.wake``) and the
poller fetches just that asset's result (E6), reading E5 only when the event leaves open
whether a failure may be retried. Status reads then only reconcile: a submission no event
has finished is read ``webhooks.settle_margin`` after its last event (its siblings should
have ended by then), else at ``webhooks.reconcile_first`` and then ever more rarely, so lost
events delay a result but never lose it.
"""

from __future__ import annotations

import contextlib
from collections import Counter

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from batcher.api.models import TERMINAL_STATUSES, AssetStatus, SubmissionStatus
from batcher.context import RunContext
from batcher.errors import ApiError, ConflictError, DeadlineError, RowError
from batcher.outcome import ErrorInfo, ReportLine, RowJob, Ticket
from batcher.redact import Redactor
from batcher.stages.poll_timing import first_wait, hooked_wait, next_wait
from batcher.stages.poll_timing import note_progress as note_progress
from batcher.stages.poll_timing import poll_interval as poll_interval
from batcher.stages.poll_timing import reconcile_wait as reconcile_wait
from batcher.stages.schedule import PollSchedule
from batcher.webhooks.events import Wakeup

__all__ = [
    "PollSchedule",
    "Poller",
    "hooked_wait",
    "next_wait",
    "note_progress",
    "poll_interval",
    "poll_stage",
    "reconcile_wait",
]


def _asset_looks_done(item: AssetStatus, submission_terminal: bool) -> bool:
    # E5 items carry no documented per-asset status; issueCount/errorMessage being set, or
    # the submission being terminal, tells that E6 is worth fetching (E6 has the status).
    if item.status is not None:
        return item.status in TERMINAL_STATUSES
    return submission_terminal or item.issue_count is not None or item.error_message is not None


def _complete_without_issues(item: AssetStatus | None) -> bool:
    """An E5 item that tells the whole result: finished (``issueCount`` is null while
    processing) with no issues and no error. Its report line would be what E6 gives."""
    if item is None or item.issue_count != 0 or item.error_message or item.error_type:
        return False
    return item.status in (None, "complete")


class Poller:
    def __init__(
        self,
        ctx: RunContext,
        report: ObjectSendStream[ReportLine],
        fetches: anyio.CapacityLimiter,
    ) -> None:
        self._ctx = ctx
        self._report = report
        self._fetches = fetches
        # The service's own texts (error type and message) are untrusted.
        self._clean = Redactor.of(ctx.settings.api_key).untrusted

    async def poll_woken(self, ticket: Ticket, hints: dict[str, Wakeup]) -> bool:
        """A round for the assets events named: E6 for each, E5 only when a failure's event
        does not say whether it is retryable. Returns True when every row is reported."""
        ctx = self._ctx
        woken = {a: w for a, w in hints.items() if a in ticket.jobs and a not in ticket.done}
        items: dict[str, AssetStatus] = {}
        if any(w.status != "complete" and w.item is None for w in woken.values()):
            ticket.polls += 1
            ctx.counters.polls += 1
            status = await ctx.client.get_submission(ticket.submission_id)
            note_progress(ticket, status.progress_percent, ctx.clock.now())
            items = {a.asset_id: a for a in status.assets}
        async with anyio.create_task_group() as tg:
            for asset_id, wakeup in woken.items():
                item = wakeup.item or items.get(asset_id)
                tg.start_soon(self._settle_one, ticket, asset_id, ticket.jobs[asset_id], item)
        return len(ticket.done) == len(ticket.jobs)

    async def poll_once(self, ticket: Ticket) -> bool:
        """One round for one submission. Returns True when every row is reported."""
        ctx = self._ctx
        ticket.polls += 1
        ctx.counters.polls += 1
        status = await ctx.client.get_submission(ticket.submission_id)
        if status.submission_id != ticket.submission_id:
            # Caught by the worker: every row of the ticket ends with this error.
            raise ApiError(
                f"the status of submission {ticket.submission_id} came back for "
                f"{status.submission_id}",
                code="bad_response",
            )
        note_progress(ticket, status.progress_percent, ctx.clock.now())
        await self._fail_listed_twice(ticket, status)
        # IDs listed that are not ours concern no row (E6, checked per row, is what counts).
        items = {a.asset_id: a for a in status.assets}
        async with anyio.create_task_group() as tg:
            for asset_id, job in ticket.jobs.items():
                if asset_id in ticket.done:
                    continue
                item = items.get(asset_id)
                if item is None and not status.terminal:
                    continue
                if item is not None and not _asset_looks_done(item, status.terminal):
                    continue
                tg.start_soon(self._settle_one, ticket, asset_id, job, item)
        return len(ticket.done) == len(ticket.jobs)

    async def _fail_listed_twice(self, ticket: Ticket, status: SubmissionStatus) -> None:
        counts = Counter(a.asset_id for a in status.assets)
        for asset_id, n in counts.items():
            job = ticket.jobs.get(asset_id)
            if n > 1 and job is not None and asset_id not in ticket.done:
                ticket.done.add(asset_id)
                error = ApiError(
                    f"the status of submission {ticket.submission_id} lists asset {asset_id} "
                    f"{n} times",
                    code="bad_response",
                )
                await self._report.send(job.fail("poll", error))

    async def _settle_one(
        self, ticket: Ticket, asset_id: str, job: RowJob, item: AssetStatus | None
    ) -> None:
        # The assets of a finished submission are fetched side by side, within one limit
        # shared by all pollers, so a submission of 50 does not take 50 round trips.
        async with self._fetches:
            try:
                settled = await self._settle(job, item)
            except RowError as exc:  # this asset's retries spent: its row says so
                ticket.done.add(asset_id)
                await self._report.send(job.fail("poll", exc))
                return
        if settled:
            ticket.done.add(asset_id)

    async def _settle(self, job: RowJob, item: AssetStatus | None) -> bool:
        """Fetch E6; report the row, or start an E9 retry. True when the row is reported."""
        ctx = self._ctx
        assert job.submission_id is not None and job.asset_id is not None
        if _complete_without_issues(item):
            assert item is not None
            # E5 already tells the whole result: no E6 needed (request economy).
            job.version_group_id = item.version_group_id or job.version_group_id
            job.version_number = item.version_number or job.version_number
            await self._report.send(job.line(status="complete", issue_count=0, issues=[]))
            return True
        result = await ctx.client.get_asset(job.submission_id, job.asset_id)
        if result.asset_id != job.asset_id or result.submission_id not in (None, job.submission_id):
            raise ApiError(
                f"the result of asset {job.asset_id} (submission {job.submission_id}) came back "
                f"for asset {result.asset_id} (submission {result.submission_id})",
                code="bad_response",
            )
        if result.status not in TERMINAL_STATUSES:
            return False
        job.version_group_id = result.version_group_id or job.version_group_id
        job.version_number = result.version_number or job.version_number
        if result.status == "failed":
            retryable = result.is_retryable
            if retryable is None:
                retryable = item is not None and item.is_retryable
            error_type = result.error_type or (item.error_type if item else None)
            error_message = result.error_message or (item.error_message if item else None)
            if retryable and job.asset_retries < ctx.settings.poll.asset_retries:
                # 409: a retry is already running (or our earlier, ambiguous one landed).
                with contextlib.suppress(ConflictError):
                    await ctx.client.retry_asset(job.submission_id, job.asset_id)
                job.asset_retries += 1
                ctx.counters.asset_retries += 1
                ctx.journal.rows.retried(job)
                return False
            error = ErrorInfo(
                stage="result",
                code=self._clean(error_type or "", 64) or "processing_failed",
                message=self._clean(error_message or "", 300)
                or "the service reported the asset as failed",
                retryable=retryable,
            )
            line = job.line(
                status="failed", issue_count=result.issue_count, issues=result.issues, error=error
            )
        else:
            line = job.line(status="complete", issue_count=result.issue_count, issues=result.issues)
        await self._report.send(line)
        return True

    async def fail_rest(self, ticket: Ticket, exc: RowError) -> None:
        for asset_id, job in ticket.jobs.items():
            if asset_id not in ticket.done:
                ticket.done.add(asset_id)
                await self._report.send(job.fail("poll", exc))


async def _poll_worker(ctx: RunContext, schedule: PollSchedule, poller: Poller) -> None:
    settings = ctx.settings.poll
    webhooks = ctx.settings.webhooks
    while (ticket := await schedule.get()) is not None:
        # Fatal errors (401/402) propagate and cancel the run; nothing to hand back then.
        next_due: float | None = None
        hints = schedule.take_hints(ticket.submission_id)
        try:
            if hints:
                finished = await poller.poll_woken(ticket, hints)
            else:
                finished = await poller.poll_once(ticket)
        except RowError as exc:  # retries of this poll spent: report, don't hang
            await poller.fail_rest(ticket, exc)
            finished = True
        if not finished:
            now = ctx.clock.now()
            if now - ticket.created_at > settings.deadline:
                await poller.fail_rest(
                    ticket,
                    DeadlineError(
                        f"submission {ticket.submission_id} still not finished after "
                        f"{settings.deadline:.0f} s; its result can be fetched later",
                        retryable=True,
                    ),
                )
            elif webhooks is None:
                next_due = now + next_wait(settings, ticket)
            else:
                heard = schedule.heard(ticket.submission_id)
                next_due = now + hooked_wait(webhooks, ticket, bool(hints), heard)
        await schedule.finished(ticket, next_due)


async def poll_stage(
    ctx: RunContext,
    tickets: ObjectReceiveStream[Ticket],
    report: ObjectSendStream[ReportLine],
    wakeups: ObjectReceiveStream[Wakeup] | None = None,
) -> None:
    """``wakeups``: verified webhook events (webhooks on), each making its ticket due now."""
    schedule = PollSchedule(ctx.clock)

    async def feed() -> None:
        async with tickets:
            async for ticket in tickets:
                await schedule.put(ticket, ctx.clock.now() + first_wait(ctx, ticket))
        await schedule.close()

    async def route(events: ObjectReceiveStream[Wakeup]) -> None:
        async for wakeup in events:
            await schedule.wake(wakeup)

    async def stop_on_shutdown() -> None:
        await ctx.stopping.wait()
        await schedule.stop()

    async with report, anyio.create_task_group() as outer:
        outer.start_soon(stop_on_shutdown)
        if wakeups is not None:
            outer.start_soon(route, wakeups)
        async with anyio.create_task_group() as tg:
            tg.start_soon(feed)
            fetches = anyio.CapacityLimiter(ctx.settings.poll.fetch_concurrency)
            for _ in range(ctx.settings.poll.workers):
                tg.start_soon(_poll_worker, ctx, schedule, Poller(ctx, report, fetches))
        outer.cancel_scope.cancel()
