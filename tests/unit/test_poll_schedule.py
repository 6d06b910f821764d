"""The poll schedule and the poller over the fake service: order, deadlines, retries."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from batcher.clock import FakeClock
from batcher.config import PollSettings
from batcher.outcome import ReportLine, Ticket
from batcher.stages.poll import PollSchedule, poll_stage
from batcher.stages.submit import Submitter
from tests.unit.rig import rig

pytestmark = pytest.mark.anyio


async def test_tickets_come_out_in_due_order_at_their_due_time() -> None:
    clock = FakeClock()
    schedule = PollSchedule(clock)
    got: list[tuple[str, float]] = []
    async with clock.autojump():
        await schedule.put(Ticket("late", {}, 0.0), clock.now() + 30)
        await schedule.put(Ticket("soon", {}, 0.0), clock.now() + 5)
        await schedule.close()
        start = clock.now()
        while (ticket := await schedule.get()) is not None:
            got.append((ticket.submission_id, clock.now() - start))
            await schedule.finished(ticket, None)
    assert got == [("soon", 5.0), ("late", 30.0)]


async def test_a_submission_that_never_finishes_ends_at_its_deadline_as_a_row_error(
    tmp_path: Path,
) -> None:
    poll = PollSettings(initial=5.0, max_interval=60.0, deadline=600.0)
    async with rig(tmp_path, processing=10_000.0, poll=poll) as r:
        t_tx, t_rx = anyio.create_memory_object_stream[Ticket](10)
        rep_tx, rep_rx = anyio.create_memory_object_stream[ReportLine](10)
        job = await r.uploaded_job(1)
        with t_tx.clone() as sub_tx, rep_tx.clone() as sub_rep:
            await Submitter(r.ctx, sub_tx, sub_rep).submit([job])
        t_tx.close()
        created = r.clock.now()
        with rep_rx:
            async with anyio.create_task_group() as tg:
                tg.start_soon(poll_stage, r.ctx, t_rx, rep_tx)
                line = await rep_rx.receive()
            ended = r.clock.now()
    assert line.error is not None and line.error.code == "deadline_exceeded"
    assert 600.0 <= ended - created <= 600.0 + 60.0
    polls = [c for c in r.fake.calls if c.endpoint == "get_submission"]
    # Backoff 5, 7.5, 11.25 ... capped at 60: a dozen polls for ten minutes, not hundreds.
    assert 8 <= len(polls) <= 20


async def test_a_flaky_asset_is_retried_once_and_then_reported_complete(tmp_path: Path) -> None:
    async with rig(tmp_path, processing=20.0) as r:
        t_tx, t_rx = anyio.create_memory_object_stream[Ticket](10)
        rep_tx, rep_rx = anyio.create_memory_object_stream[ReportLine](10)
        job = await r.uploaded_job(1, content=b"MM-FLAKY")
        with t_tx.clone() as sub_tx, rep_tx.clone() as sub_rep:
            await Submitter(r.ctx, sub_tx, sub_rep).submit([job])
        t_tx.close()
        with rep_rx:
            async with anyio.create_task_group() as tg:
                tg.start_soon(poll_stage, r.ctx, t_rx, rep_tx)
                line = await rep_rx.receive()
    assert line.status == "complete"
    assert r.fake.requests["retry_asset"] == 1
    assert r.ctx.counters.asset_retries == 1
