"""The journal: its row state machine, deferred commits, sweeps, --fresh and the history
that outlives them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from batcher.clock import FakeClock
from batcher.errors import UsageError
from batcher.outcome import ReportLine, RowJob
from batcher.state.journal import Journal
from batcher.state.rows import DEFER_SECONDS, RowState


def _finish(journal: Journal, key: str, row: int, submission: str | None) -> None:
    job = RowJob(row=row, path_text=f"f{row}.png", columns={}, key=key, size=10, mtime_ns=5)
    line = job.line(status="complete" if submission else "error")
    line.submission_id = submission
    journal.rows.reported(line, line.to_json())


def test_history_survives_a_completed_sweep_and_fresh_but_rows_do_not(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, incremental=True)
    first_run = journal.run_id
    _finish(journal, "path:/a", 1, "sub-1")
    journal.mark_completed()
    journal.close()

    journal = Journal(path, incremental=True)
    assert journal.run_id != first_run  # a new sweep
    assert journal.store.count_rows() == 0
    assert journal.history is not None
    record = journal.history.get("path:/a")
    assert record is not None and record.submission_id == "sub-1" and record.carry
    assert record.sweep == first_run
    _finish(journal, "path:/a", 1, None)  # an upload error keeps the chain
    journal.close()

    journal = Journal(path, fresh=True, incremental=True)
    assert journal.store.count_rows() == 0
    assert journal.history is not None
    record = journal.history.get("path:/a")
    assert record is not None and record.submission_id == "sub-1"
    assert record.status == "error" and not record.carry
    journal.close()


def test_rows_are_found_by_identity_whatever_their_number(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path)
    job = RowJob(row=3, path_text="a.png", columns={}, key="path:/a", size=1, mtime_ns=1)
    job.blob_path = "ws/a.png"
    journal.rows.uploaded_soon(job)  # deferred, then made durable by close
    journal.close()
    journal = Journal(path)
    record = journal.rows.get("path:/a")
    assert record is not None and record.state is RowState.UPLOADED and record.row == 3
    assert journal.rows.get("path:/b") is None
    journal.close()


def test_lines_without_an_identity_are_not_journaled(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", incremental=True)
    line = ReportLine(row=1, path="", status="error")
    journal.rows.reported(line, line.to_json())
    journal.close()
    assert Journal(tmp_path / "j.sqlite").store.count_rows() == 0


def test_a_journal_of_another_version_asks_for_fresh(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "j.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema', '1')")
    db.commit()
    db.close()
    with pytest.raises(UsageError, match="--fresh"):
        Journal(path)
    Journal(path, fresh=True).close()  # --fresh replaces it


def _key(row: int) -> str:
    return f"path:/data/f{row}.png"


def _job(row: int) -> RowJob:
    job = RowJob(row=row, path_text=f"f{row}.png", columns={}, key=_key(row), size=10, mtime_ns=5)
    job.blob_path, job.submission_id, job.asset_id = f"ws/f{row}.png", "s1", f"a{row}"
    return job


def _line(row: int) -> ReportLine:
    return _job(row).line(status="complete")


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
    record = resumed.rows.get(_key(1))
    assert record is not None and record.state is RowState.SUBMITTED
    assert record.asset_id == "a1"
    resumed.mark_completed()
    resumed.close()

    next_sweep = Journal(path)
    assert not next_sweep.resumed and next_sweep.run_id != run_id
    assert next_sweep.rows.get(_key(1)) is None
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
