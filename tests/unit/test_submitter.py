"""The batch and submit stage, deterministically: linger, halving a refused batch, the
ambiguous create. Over the fake service and the fake clock."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from batcher.api.testing import DropAfter
from batcher.outcome import ReportLine, RowJob, Ticket
from batcher.stages.submit import Submitter, batch_stage
from tests.unit.rig import rig

pytestmark = pytest.mark.anyio


async def test_a_partial_batch_is_submitted_when_its_linger_runs_out_not_at_the_end(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, batch_size=10, batch_linger=7.0) as r:
        up_tx, up_rx = anyio.create_memory_object_stream[RowJob](10)
        t_tx, t_rx = anyio.create_memory_object_stream[Ticket](10)
        rep_tx, rep_rx = anyio.create_memory_object_stream[ReportLine](10)
        jobs = [await r.uploaded_job(i) for i in (1, 2)]
        with t_rx, rep_rx:
            async with anyio.create_task_group() as tg:
                tg.start_soon(batch_stage, r.ctx, up_rx, t_tx, rep_tx)
                t0 = r.clock.now()
                async with up_tx:
                    for job in jobs:
                        await up_tx.send(job)
                    # The stream is still open: only the linger can flush this batch.
                    ticket = await t_rx.receive()
                    waited = r.clock.now() - t0
        assert sorted(j.row for j in ticket.jobs.values()) == [1, 2]
        assert waited == pytest.approx(7.0)


async def test_a_refused_row_is_isolated_by_halving_and_the_rest_is_submitted(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as r:
        t_tx, t_rx = anyio.create_memory_object_stream[Ticket](10)
        rep_tx, rep_rx = anyio.create_memory_object_stream[ReportLine](10)
        batch = [await r.uploaded_job(i) for i in range(1, 5)]
        batch[2].blob_path = "660e8400-e29b-41d4-a716-446655440000/never-uploaded.png"
        await Submitter(r.ctx, t_tx, rep_tx).submit(batch)
        t_tx.close()
        rep_tx.close()
        with t_rx, rep_rx:
            tickets = [t async for t in t_rx]
            lines = [line async for line in rep_rx]
    assert [line.row for line in lines] == [3]
    assert lines[0].error is not None and lines[0].error.code == "invalid_blob_path"
    assert sorted(j.row for t in tickets for j in t.jobs.values()) == [1, 2, 4]
    # [1,2,3,4] refused -> [1,2] ok, [3,4] refused -> [3] refused, [4] ok: five creates.
    assert r.fake.requests["create_submission"] == 5


async def test_an_ambiguous_create_is_sent_once_more_and_never_duplicates(tmp_path: Path) -> None:
    # "report" mode: nothing is resubmitted (the default, "resubmit", is in
    # test_submitter_ambiguous.py).
    async with rig(tmp_path, on_ambiguous_create="report") as r:
        t_tx, t_rx = anyio.create_memory_object_stream[Ticket](10)
        rep_tx, rep_rx = anyio.create_memory_object_stream[ReportLine](10)
        batch = [await r.uploaded_job(i) for i in (1, 2)]
        r.fake.script("create_submission", DropAfter())
        await Submitter(r.ctx, t_tx, rep_tx).submit(batch)
        t_tx.close()
        rep_tx.close()
        with t_rx, rep_rx:
            tickets = [t async for t in t_rx]
            lines = [line async for line in rep_rx]
    # The first create landed (its answer was lost); the resend met 409 for both rows.
    assert len(r.fake.submissions) == 1
    assert r.fake.requests["create_submission"] == 2  # the 409 is explained: no halving
    assert [line.error.code for line in lines if line.error] == ["submission_unconfirmed"] * 2
    assert all(j.create_ambiguous for j in batch)
    assert len({a.blob_path for a in r.fake.submitted_assets()}) == len(r.fake.submitted_assets())
    assert tickets or lines  # every row went somewhere: a ticket or a line
    reported = {line.row for line in lines} | {j.row for t in tickets for j in t.jobs.values()}
    assert reported == {1, 2}
