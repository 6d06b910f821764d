"""The journal's row state machine, its deferred commits and its sweep semantics."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from batcher.clock import FakeClock
from batcher.outcome import ReportLine, RowJob
from batcher.state.journal import Journal
from batcher.state.rows import DEFER_SECONDS, RowState


def _job(row: int) -> RowJob:
    job = RowJob(row=row, path_text=f"f{row}.png", columns={}, size=10, mtime_ns=5)
    job.blob_path, job.submission_id, job.asset_id = f"ws/f{row}.png", "s1", f"a{row}"
    return job


def _line(row: int) -> ReportLine:
    return ReportLine(row=row, path=f"f{row}.png", status="complete")


def _states_on_disk(path: Path) -> dict[int, str]:
    db = sqlite3.connect(path)
    try:
        return {int(r): str(s) for r, s in db.execute("SELECT row, state FROM rows")}
    finally:
        db.close()


def test_each_state_is_one_row_updated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path)
    job = _job(1)
    journal.rows.checked(job)
    journal.rows.uploaded(job)
    journal.rows.submitting([job])
    journal.rows.submitted([job])
    journal.rows.retried(job)
    assert journal.rows.statistics() == {RowState.SUBMITTED: 1}
    journal.close()
    assert _states_on_disk(path) == {1: "submitted"}


def test_reported_rows_are_deferred_then_committed_by_time_on_the_run_clock(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    path = tmp_path / "j.sqlite"
    journal = Journal(path, now=clock.now)
    journal.rows.reported(_line(1), _line(1).to_json())
    assert _states_on_disk(path) == {}  # not yet durable: one commit per burst, not per row
    clock.advance(DEFER_SECONDS)
    journal.rows.reported(_line(2), _line(2).to_json())
    assert _states_on_disk(path) == {1: "reported", 2: "reported"}
    journal.close()


def test_any_other_write_commits_the_deferred_lines_first(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, now=FakeClock().now)
    journal.rows.reported(_line(1), _line(1).to_json())
    journal.rows.uploaded(_job(2))
    assert _states_on_disk(path)[1] == "reported"
    journal.close()


def test_a_resumed_journal_gives_records_back_and_a_completed_one_starts_a_new_sweep(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    first = Journal(path)
    first.rows.submitted([_job(1)])
    run_id = first.run_id
    first.close()

    resumed = Journal(path)
    assert resumed.resumed and resumed.run_id == run_id
    record = resumed.rows.get(1)
    assert record is not None and record.state is RowState.SUBMITTED
    assert record.asset_id == "a1"
    resumed.mark_completed()
    resumed.close()

    next_sweep = Journal(path)
    assert not next_sweep.resumed and next_sweep.run_id != run_id
    assert next_sweep.rows.get(1) is None
    next_sweep.close()


def test_staged_blocks_are_kept_per_file_and_forgotten_on_commit(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.blocks.record("k", "b1", 10)
    journal.blocks.record("k", "b2", 10)
    journal.blocks.record("other", "b1", 10)
    assert journal.blocks.staged("k") == {"b1", "b2"}
    journal.blocks.forget("k")
    assert journal.blocks.staged("k") == set()
    assert journal.blocks.staged("other") == {"b1"}
    journal.close()
