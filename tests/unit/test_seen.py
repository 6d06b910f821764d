"""The identities a run has met, on disk (``state/seen.py``), and what the history lacks."""

from __future__ import annotations

import json
import random
import sqlite3
import time
from pathlib import Path

from batcher.outcome import ReportLine, RowOrigin
from batcher.state.history import HistoryReader
from batcher.state.journal import Journal
from batcher.state.seen import CACHE_KIB, CHUNK, SeenTable


def test_first_many_answers_like_a_dict_of_first_rows_across_chunks() -> None:
    db = sqlite3.connect("")
    seen = SeenTable(db, "seen_keys")
    rng = random.Random(7)
    reference: dict[str, int] = {}
    pairs = [(f"path:/media/{rng.randint(1, 900)}.png", row) for row in range(1, 3 * CHUNK + 50)]
    expected = [reference.setdefault(key, row) for key, row in pairs]
    # In uneven slices, so a key's repeat falls in its own chunk and in later ones.
    got: list[int] = []
    for start in range(0, len(pairs), 100):
        got += seen.first_many(pairs[start : start + 100])
    assert got == expected
    assert len(seen) == len(reference)
    assert seen.first(pairs[0][0], 10_000) == 1


def test_a_key_twice_in_one_batch_answers_with_the_earlier_row() -> None:
    seen = SeenTable(sqlite3.connect(""), "seen_keys")
    assert seen.first_many([("a", 5), ("b", 6), ("a", 7), ("a", 8)]) == [5, 6, 5, 5]


def test_each_table_starts_empty_and_namespaces_are_apart() -> None:
    db = sqlite3.connect("")
    keys = SeenTable(db, "seen_keys")
    paths = SeenTable(db, "seen_paths")
    assert keys.first("x", 1) == 1 and paths.first("x", 2) == 2
    assert keys.first("x", 3) == 1
    # A second table of the same name on the connection (a new run) forgets the first's.
    assert SeenTable(db, "seen_keys").first("x", 9) == 9
    assert paths.first("x", 4) == 2  # the other namespace was left alone


def test_the_table_lives_in_a_temporary_file_with_a_bounded_cache(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    try:
        db = journal.store.db
        seen = SeenTable(db, "seen_keys")
        seen.first_many([(f"k{i}", i) for i in range(1, 2_000)])
        assert int(db.execute("PRAGMA temp_store").fetchone()[0]) == 1  # FILE
        assert int(db.execute("PRAGMA temp.cache_size").fetchone()[0]) == -CACHE_KIB
        # Not in the journal itself: nothing of it outlives the run.
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert "seen_keys" not in tables
    finally:
        journal.close()
    reopened = Journal(tmp_path / "j.sqlite")
    try:
        assert SeenTable(reopened.store.db, "seen_keys").first("k5", 77) == 77
    finally:
        reopened.close()


def _history_line(n: int) -> ReportLine:
    line = ReportLine(row=n, path=f"lib/{n}.png", bytes=10, status="complete", submission_id="s")
    return line.with_origin(RowOrigin(f"path:/lib/{n}.png", 1))


def test_unseen_and_forget_are_what_the_run_did_not_meet(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", incremental=True)
    try:
        history = journal.history
        assert history is not None
        with journal.store.transaction():
            for n in (1, 2, 3, 4):
                line = _history_line(n)
                history.record(line, line.to_json())
        seen = SeenTable(history.db, "seen_keys")
        seen.first_many([("path:/lib/2.png", 1), ("path:/lib/4.png", 2), ("path:/new.png", 3)])
        assert history.unseen(seen) == [
            ("path:/lib/1.png", "lib/1.png"),
            ("path:/lib/3.png", "lib/3.png"),
        ]
        history.forget_unseen(seen)
        assert history.count() == 2 and history.unseen(seen) == []
    finally:
        journal.close()


def test_a_read_only_history_takes_a_seen_table(tmp_path: Path) -> None:
    """``--dry-run`` reads the journal read-only; its seen-table must still work."""
    journal = Journal(tmp_path / "j.sqlite", incremental=True)
    assert journal.history is not None
    with journal.store.transaction():
        line = _history_line(1)
        journal.history.record(line, line.to_json())
    journal.close()
    reader = HistoryReader.open_read_only(tmp_path / "j.sqlite")
    assert reader is not None
    try:
        seen = SeenTable(reader.db, "seen_keys")
        assert seen.first("path:/other.png", 1) == 1
        assert [key for key, _ in reader.unseen(seen)] == ["path:/lib/1.png"]
        assert json.loads(reader.get_many(["path:/lib/1.png"])["path:/lib/1.png"].line)["row"] == 1
    finally:
        reader.close()


def test_get_many_finds_what_get_finds(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", incremental=True, now=time.monotonic)
    try:
        history = journal.history
        assert history is not None
        with journal.store.transaction():
            for n in range(1, CHUNK + 20):
                line = _history_line(n)
                history.record(line, line.to_json())
        keys = [f"path:/lib/{n}.png" for n in range(CHUNK + 30, 0, -1)] + ["path:/lib/3.png"]
        found = history.get_many(keys)
        assert set(found) == {f"path:/lib/{n}.png" for n in range(1, CHUNK + 20)}
        assert all(found[k] == history.get(k) for k in found)
    finally:
        journal.close()


def test_a_seen_table_can_be_made_inside_the_journals_open_transaction(tmp_path: Path) -> None:
    """SQLite refuses to change ``temp_store`` inside a transaction once the connection's
    temporary database is open; the journal may have its deferred transaction open when a
    run's table is made."""
    journal = Journal(tmp_path / "j.sqlite")
    try:
        db = journal.store.db
        db.execute("CREATE TEMP TABLE other (x)")  # the temporary database is open
        assert int(db.execute("PRAGMA temp_store").fetchone()[0]) == 0
        journal.store.begin_deferred()
        assert db.in_transaction
        seen = SeenTable(db, "seen_keys")
        assert seen.first_many([("a", 1), ("a", 2)]) == [1, 1]
        journal.store.commit()
        assert seen.first("a", 3) == 1
    finally:
        journal.close()
