"""The ambiguous create in resubmit mode (the default), stage by stage over the fake service:
fresh names, one more create, a note on each row; at most once per row; a batch mixing
rows of a lost create with new rows is split by kind, never halved."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from batcher.api.models import AssetRef
from batcher.api.testing import Answer, DropAfter, DropBefore
from batcher.outcome import ReportLine, RowJob, Ticket
from batcher.stages.resubmit import RESUBMITTED
from batcher.stages.submit import Submitter
from batcher.state.journal import Journal
from batcher.state.rows import RowState
from tests.unit.rig import Rig, rig

pytestmark = pytest.mark.anyio


async def _submit(r: Rig, batch: list[RowJob]) -> tuple[list[Ticket], list[ReportLine]]:
    t_tx, t_rx = anyio.create_memory_object_stream[Ticket](10)
    rep_tx, rep_rx = anyio.create_memory_object_stream[ReportLine](10)
    await Submitter(r.ctx, t_tx, rep_tx).submit(batch)
    t_tx.close()
    rep_tx.close()
    with t_rx, rep_rx:
        return [t async for t in t_rx], [line async for line in rep_rx]


async def test_the_rows_of_a_lost_create_are_resubmitted_under_fresh_names(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as r:
        batch = [await r.uploaded_job(i) for i in (1, 2, 3)]
        earlier = {job.row: job.blob_path for job in batch}
        r.fake.script("create_submission", DropAfter())
        tickets, lines = await _submit(r, batch)
    assert lines == []
    [ticket] = tickets
    assert sorted(j.row for j in ticket.jobs.values()) == [1, 2, 3]
    assert r.fake.requests["create_submission"] == 3  # cut, resend (409), fresh names
    assert len(r.fake.submissions) == 2
    for job in ticket.jobs.values():
        assert job.blob_path != earlier[job.row]
        assert [n.code for n in job.notes] == [RESUBMITTED]
        assert str(earlier[job.row]) in job.notes[0].message
        assert not job.create_ambiguous


async def test_a_row_is_resubmitted_once_then_reported_unconfirmed(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        batch = [await r.uploaded_job(i) for i in (1, 2)]
        # The first create is cut, and so is the create under fresh names.
        r.fake.script("create_submission", DropAfter(), None, DropAfter())  # type: ignore[arg-type]
        tickets, lines = await _submit(r, batch)
    assert tickets == []
    assert [line.error.code for line in lines if line.error] == ["submission_unconfirmed"] * 2
    assert all(line.notes and line.notes[0].code == RESUBMITTED for line in lines)
    # cut, resend 409, fresh create cut, its resend 409: never more.
    assert r.fake.requests["create_submission"] == 4


async def test_a_batch_mixing_a_lost_create_with_new_rows_is_split_by_kind(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as r:
        lost = [await r.uploaded_job(i) for i in (1, 2)]
        # A resumed run: rows 1 and 2 were in a create that landed while the process died
        # (journal "submitting"); rows 3 and 4 are new; all four meet in one batch.
        await r.ctx.client.create_submission([AssetRef(blob_path=str(j.blob_path)) for j in lost])
        for job in lost:
            job.create_ambiguous = True
        fresh = [await r.uploaded_job(i) for i in (3, 4)]
        before = r.fake.requests["create_submission"]
        tickets, lines = await _submit(r, [*lost, *fresh])
        creates = r.fake.requests["create_submission"] - before
    assert lines == []
    assert sorted(j.row for t in tickets for j in t.jobs.values()) == [1, 2, 3, 4]
    # mixed (409), new rows alone (201), lost rows alone (409), lost rows under fresh names.
    assert creates == 4
    notes = {j.row: [n.code for n in j.notes] for t in tickets for j in t.jobs.values()}
    assert notes == {1: [RESUBMITTED], 2: [RESUBMITTED], 3: [], 4: []}


async def test_the_note_survives_a_crash_before_the_row_is_reported(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        batch = [await r.uploaded_job(i) for i in (1, 2)]
        r.fake.script("create_submission", DropAfter())
        tickets, _ = await _submit(r, batch)
        # The process dies here (rows "submitted", no line yet); the next run reads them back.
        again = Journal(tmp_path / "j.sqlite")
        try:
            record = again.rows.get(f"path:{tmp_path / 'f1.png'}")
        finally:
            again.close()
    assert tickets and record is not None
    job = RowJob(row=1, path_text="f1.png", columns={})
    record.restore(job)
    assert [n.code for n in job.notes] == [RESUBMITTED]
    assert job.line(status="complete").notes == job.notes


def _state(tmp_path: Path, row: int) -> RowState | None:
    journal = Journal(tmp_path / "j.sqlite")
    try:
        record = journal.rows.get(f"path:{tmp_path / f'f{row}.png'}")
    finally:
        journal.close()
    return None if record is None else record.state


async def test_a_refused_create_fails_its_rows_provisionally_or_is_resent_by_the_breaker(
    tmp_path: Path,
) -> None:
    """A 5xx whose retries are spent leaves its rows plainly "uploaded" (retryable lines:
    the next run submits them, nothing was created). A refused connection never reaches the
    submitter at all once the API has answered: its breaker holds the create and sends it
    again when the host is back, so the row is simply submitted."""
    async with rig(tmp_path, retry_attempts=1) as r:
        plain = [await r.uploaded_job(i) for i in (1, 2)]  # the API has answered: armed
        cut_before = await r.uploaded_job(3)
        cut_before.create_ambiguous = True  # its earlier create was cut: it may have landed
        r.fake.script("create_submission", Answer(500, {"detail": "boom"}), DropBefore())
        _, lines = await _submit(r, plain)
        tickets, more = await _submit(r, [cut_before])
        states = {row: _state(tmp_path, row) for row in (1, 2, 3)}
    assert [line.error.code for line in lines if line.error] == ["server_error"] * 2
    assert all(line.error is not None and line.error.retryable for line in lines)
    assert more == [] and [sorted(j.row for j in t.jobs.values()) for t in tickets] == [[3]]
    assert r.fake.requests["create_submission"] == 3  # the 500, the refused one, its resend
    # The next run submits 1 and 2 plainly; 3 is submitted.
    assert states == {1: RowState.UPLOADED, 2: RowState.UPLOADED, 3: RowState.SUBMITTED}
