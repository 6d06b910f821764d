"""A bounded pool of pollers: E5 per submission, E6 per finished asset, E9 for retryable failures.

Submissions wait in a schedule ordered by their next poll time, so ``workers`` pollers serve
any number of submissions and none sits idle on a sleeping one. The interval starts at
``poll.initial`` (the docs' sample loop uses 5 s) and grows by ``poll.multiplier`` up to
``poll.max_interval`` (the docs recommend backing off for long jobs).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from batcher.api.models import TERMINAL_STATUSES, AssetStatus
from batcher.clock import Clock
from batcher.config import PollSettings
from batcher.context import RunContext
from batcher.errors import ConflictError, DeadlineError, RowError
from batcher.outcome import ErrorInfo, ReportLine, RowJob, Ticket


def poll_interval(settings: PollSettings, polls_done: int) -> float:
    return min(settings.max_interval, settings.initial * settings.multiplier**polls_done)


def next_wait(settings: PollSettings, ticket: Ticket) -> float:
    """Backoff, but no later than the end ``progressPercent`` predicts: a long backoff would
    otherwise find a finished submission up to a whole interval late."""
    backoff = poll_interval(settings, ticket.polls)
    if ticket.eta is None:
        return backoff
    floor = min(settings.min_interval, settings.initial)
    return max(floor, min(backoff, ticket.eta * 1.05))


def note_progress(ticket: Ticket, percent: int | None, now: float) -> None:
    if percent is None:
        return
    if ticket.progress is None or percent < ticket.progress[1]:
        ticket.progress, ticket.eta = (now, percent), None  # first sight, or a retry restarted
        return
    then, before = ticket.progress
    if percent > before and now > then:
        rate = (percent - before) / (now - then)
        ticket.progress, ticket.eta = (now, percent), (100 - percent) / rate


class PollSchedule:
    """Tickets ordered by due time. ``get`` returns None once input is closed and all done."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Ticket]] = []
        self._seq = itertools.count()
        self._in_flight = 0
        self._closed = False
        self._changed = anyio.Condition()

    async def put(self, ticket: Ticket, due: float) -> None:
        async with self._changed:
            heapq.heappush(self._heap, (due, next(self._seq), ticket))
            self._changed.notify_all()

    async def stop(self) -> None:
        """Shutdown: hand out nothing more (the journal keeps every submission to poll)."""
        async with self._changed:
            self._heap.clear()
            self._closed = True
            self._changed.notify_all()

    async def close(self) -> None:
        async with self._changed:
            self._closed = True
            self._changed.notify_all()

    async def get(self) -> Ticket | None:
        async with self._changed:
            while True:
                now = self._clock.now()
                if self._heap and self._heap[0][0] <= now:
                    self._in_flight += 1
                    return heapq.heappop(self._heap)[2]
                if self._closed and not self._heap and self._in_flight == 0:
                    return None
                if not self._heap:
                    await self._changed.wait()
                    continue
                async with self._clock.move_on_after(self._heap[0][0] - now):
                    await self._changed.wait()

    async def finished(self, ticket: Ticket, next_due: float | None) -> None:
        async with self._changed:
            self._in_flight -= 1
            if next_due is not None:
                heapq.heappush(self._heap, (next_due, next(self._seq), ticket))
            self._changed.notify_all()


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

    async def poll_once(self, ticket: Ticket) -> bool:
        """One round for one submission. Returns True when every row is reported."""
        ctx = self._ctx
        ticket.polls += 1
        ctx.counters.polls += 1
        status = await ctx.client.get_submission(ticket.submission_id)
        note_progress(ticket, status.progress_percent, ctx.clock.now())
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
                code=error_type or "processing_failed",
                message=error_message or "the service reported the asset as failed",
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
    while (ticket := await schedule.get()) is not None:
        # Fatal errors (401/402) propagate and cancel the run; nothing to hand back then.
        next_due: float | None = None
        try:
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
            else:
                next_due = now + next_wait(settings, ticket)
        await schedule.finished(ticket, next_due)


async def poll_stage(
    ctx: RunContext,
    tickets: ObjectReceiveStream[Ticket],
    report: ObjectSendStream[ReportLine],
) -> None:
    schedule = PollSchedule(ctx.clock)

    async def feed() -> None:
        async with tickets:
            async for ticket in tickets:
                first = ctx.clock.now() + poll_interval(ctx.settings.poll, 0)
                await schedule.put(ticket, first)
        await schedule.close()

    async def stop_on_shutdown() -> None:
        await ctx.stopping.wait()
        await schedule.stop()

    async with report, anyio.create_task_group() as outer:
        outer.start_soon(stop_on_shutdown)
        async with anyio.create_task_group() as tg:
            tg.start_soon(feed)
            fetches = anyio.CapacityLimiter(ctx.settings.poll.fetch_concurrency)
            for _ in range(ctx.settings.poll.workers):
                tg.start_soon(_poll_worker, ctx, schedule, Poller(ctx, report, fetches))
        outer.cancel_scope.cancel()
