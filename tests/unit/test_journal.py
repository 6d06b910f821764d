"""The journal's store: sweeps, --fresh and the history that outlives both."""

from __future__ import annotations

from pathlib import Path

import pytest

from batcher.errors import UsageError
from batcher.outcome import ReportLine, RowJob
from batcher.state.journal import Journal
from batcher.state.rows import RowState


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
