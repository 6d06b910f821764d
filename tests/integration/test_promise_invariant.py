"""The end-of-run check: a row that never got its line is named, the journal is not marked
complete, the run exits EXIT_ROWS_MISSING (never 0), and the next run finishes the row."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from pydantic import SecretStr

from batcher.api.testing import FakeMediaMagic
from batcher.clock import FakeClock
from batcher.config import PollSettings, Settings
from batcher.outcome import ReportLine
from batcher.pipeline import Transports, journal_path_for, run_batch
from batcher.scale.shard import Shard
from batcher.stages.report import ReportWriter
from batcher.summary import EXIT_ROWS_MISSING
from tests.unit.rig import write_pngs

pytestmark = pytest.mark.anyio


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        base_url="http://127.0.0.1:9",
        api_key=SecretStr("sk_test_fake"),
        report_path=tmp_path / "r.jsonl",
        batch_size=20,
        batch_linger=30,
        poll=PollSettings(initial=5.0, max_interval=60.0, deadline=3600.0),
    )


def _completed(report: Path) -> bool:
    db = sqlite3.connect(journal_path_for(report))
    try:
        return db.execute("SELECT 1 FROM meta WHERE key = 'completed'").fetchone() is not None
    finally:
        db.close()


async def test_rows_that_never_got_a_line_are_named_and_the_run_does_not_exit_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = write_pngs(tmp_path, [10 + i for i in range(14)])
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=10.0)
    write = ReportWriter.write
    lost = {2, 3, 5, 7, 8, 9, 10, 11, 12, 13, 14}

    def losing(self: ReportWriter, line: ReportLine) -> None:
        if line.row not in lost:  # a stage that drops rows, as a bug would
            write(self, line)

    monkeypatch.setattr(ReportWriter, "write", losing)
    async with clock.autojump():
        summary = await run_batch(
            manifest, _settings(tmp_path), clock=clock, transports=Transports(fake, fake.blob)
        )
    assert summary.exit_code == EXIT_ROWS_MISSING
    assert summary.missing.count == 11
    assert summary.missing.first == (2, 3, 5, 7, 8, 9, 10, 11, 12, 13)  # the first ten
    text = summary.render()
    assert "11 manifest rows have no line in the report (row 2, 3, 5" in text
    assert "and 1 more" in text
    assert summary.as_dict()["run"]["missingRows"]["count"] == 11
    assert not _completed(tmp_path / "r.jsonl")

    monkeypatch.undo()
    async with clock.autojump():
        again = await run_batch(
            manifest, _settings(tmp_path), clock=clock, transports=Transports(fake, fake.blob)
        )
    assert again.exit_code == 0
    assert fake.requests["create_submission"] == 1  # the lost rows were polled, not resent
    rows = [json.loads(x)["row"] for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert sorted(rows) == list(range(1, 15))
    assert _completed(tmp_path / "r.jsonl")


async def test_rows_left_out_by_only_rows_are_not_missing(tmp_path: Path) -> None:
    manifest = write_pngs(tmp_path, [10 + i for i in range(5)])
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=10.0)
    async with clock.autojump():
        summary = await run_batch(
            manifest,
            _settings(tmp_path),
            clock=clock,
            transports=Transports(fake, fake.blob),
            only_rows=frozenset({2, 4}),
        )
    assert summary.exit_code == 0
    assert summary.rows == 2
    assert not summary.missing


async def test_rows_of_other_shards_are_not_missing(tmp_path: Path) -> None:
    manifest = write_pngs(tmp_path, [10 + i for i in range(8)])
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=10.0)
    settings = _settings(tmp_path).model_copy(update={"shard": Shard(index=0, count=2)})
    async with clock.autojump():
        summary = await run_batch(
            manifest, settings, clock=clock, transports=Transports(fake, fake.blob)
        )
    assert 0 < summary.rows < 8  # this shard's rows only
    assert summary.exit_code == 0
    assert not summary.missing
