"""Outages over the fake service and clock: the run waits at the breaker instead of failing
rows, and an outage longer than ``--max-outage`` stops cleanly and resumes."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from batcher.api.testing import Delay, FakeMediaMagic
from batcher.clock import FakeClock
from batcher.config import Settings
from batcher.errors import ServiceUnreachable
from batcher.pipeline import Transports, run_batch
from tests.unit.rig import fake_run_settings, report_lines, write_pngs

pytestmark = pytest.mark.anyio
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
START = 1000.0  # FakeClock's start


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    return fake_run_settings(tmp_path, **{"batch_size": 5, "upload_workers": 4, **kw})


def _completed(journal: Path) -> bool:
    db = sqlite3.connect(journal)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'completed'").fetchone()
    finally:
        db.close()
    return row is not None and row[0] == "1"


def _during(fake: FakeMediaMagic, start: float, end: float) -> int:
    return sum(1 for c in fake.calls if start <= c.at < end)


async def test_a_25_second_api_outage_mid_run_fails_no_row(tmp_path: Path) -> None:
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=30.0)
    # 40 rows, uploads taking a second each: uploads, creates and polls are all under way
    # when the service goes away.
    manifest = write_pngs(tmp_path, [100 + i for i in range(36)] + [200_000] * 4)
    fake.script("direct_upload", *[Delay(1.0)] * 36)
    fake.outage(START + 3.0, START + 28.0)
    async with clock.autojump():
        summary = await run_batch(
            manifest, _settings(tmp_path), clock=clock, transports=Transports(fake, fake.blob)
        )
    lines = report_lines(tmp_path)
    assert len(lines) == 40
    assert [line["status"] for line in lines] == ["complete"] * 40, [
        line.get("error") for line in lines if line["status"] != "complete"
    ]
    assert summary.exit_code == 0
    assert fake.requests["direct_upload"] == 36  # none failed: none sent twice
    # While the service was away only probes went out (one at a time, with backoff, from
    # 1 s doubling), plus the requests already under way when it went; no retry was spent.
    assert _during(fake, START + 3.0, START + 28.0) <= 10
    assert len({c.at for c in fake.calls if START + 4.0 <= c.at < START + 28.0}) <= 6
    assert summary.retries == 0


async def test_an_outage_longer_than_max_outage_stops_cleanly_and_resumes(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=30.0)
    manifest = write_pngs(tmp_path, [100 + i for i in range(12)] + [200_000] * 2)
    fake.outage(START + 2.0, START + 2000.0)
    settings = _settings(tmp_path, max_outage=600.0)
    async with clock.autojump():
        with pytest.raises(ServiceUnreachable) as info:
            await run_batch(manifest, settings, clock=clock, transports=Transports(fake, fake.blob))
    assert "re-run the same command" in info.value.message
    assert clock.now() - START < 700.0  # it gave up after --max-outage, not at the end
    lines = report_lines(tmp_path)
    assert len(lines) == 14
    assert {str(line["status"]) for line in lines} <= {"complete", "error"}
    unfinished = [line for line in lines if line["status"] != "complete"]
    assert unfinished
    assert {line["error"]["code"] for line in unfinished} == {"service_unreachable"}
    assert not _completed(tmp_path / "r.jsonl.journal.sqlite")

    uploads_before = fake.requests["direct_upload"] + len(fake.blob.ops("Put Block"))
    created_before = fake.requests["create_submission"]
    clock.advance(2000.0)  # the service is back; the same command again
    async with clock.autojump():
        summary = await run_batch(
            manifest, settings, clock=clock, transports=Transports(fake, fake.blob)
        )
    assert summary.exit_code == 0
    lines = report_lines(tmp_path)
    assert [line["status"] for line in lines] == ["complete"] * 14
    # Rows the first run got submitted were polled, not uploaded or created again.
    assert fake.requests["create_submission"] - created_before <= 3
    resent = fake.requests["direct_upload"] + len(fake.blob.ops("Put Block")) - uploads_before
    assert resent < 14
    assert len(fake.submitted_assets()) == 14


async def test_a_blob_storage_outage_mid_file_waits_and_the_file_completes(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=5.0)
    manifest = write_pngs(tmp_path, [400_000, 300_000, 50])

    async def slow_blocks(req: object) -> None:
        await clock.sleep(0.5)  # blocks take time, so the outage starts mid-file

    fake.blob.before = slow_blocks
    fake.blob.outage(clock, START + 1.0, START + 61.0)
    async with clock.autojump():
        summary = await run_batch(
            manifest, _settings(tmp_path), clock=clock, transports=Transports(fake, fake.blob)
        )
    assert summary.exit_code == 0
    assert [line["status"] for line in report_lines(tmp_path)] == ["complete"] * 3
    assert 0 < fake.blob.refused <= 12  # probes with backoff, not every block retrying
    assert summary.retries == 0
