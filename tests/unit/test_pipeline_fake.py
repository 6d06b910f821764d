"""The whole pipeline over the fake service and the fake clock: no sockets, no real waiting."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from batcher.api.testing import Answer, FakeMediaMagic
from batcher.clock import FakeClock
from batcher.pipeline import Transports, run_batch
from tests.unit.rig import fake_run_settings, report_lines, write_pngs

pytestmark = pytest.mark.anyio
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_a_run_over_the_fake_service_reports_every_row_in_virtual_time(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=600.0)  # ten minutes of "processing"
    manifest = write_pngs(tmp_path, [10, 200_000, 20])  # one presigned file of 4 blocks
    started = time.monotonic()
    async with clock.autojump():
        summary = await run_batch(
            manifest,
            fake_run_settings(tmp_path),
            clock=clock,
            transports=Transports(fake, fake.blob),
        )
    assert time.monotonic() - started < 10  # virtual minutes, not real ones
    assert clock.now() - 1000.0 >= 600.0
    assert summary.exit_code == 0
    lines = report_lines(tmp_path)
    assert [line["status"] for line in lines] == ["complete"] * 3
    assert [line["uploadMethod"] for line in lines] == ["direct", "presigned", "direct"]
    assert len(fake.blob.ops("Put Block")) == 4
    assert fake.keys_seen == {"sk_test_fake"}


async def test_a_30_second_retry_after_is_waited_out_on_the_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=1.0)
    fake.script("get_submission", Answer(429, {"error": "slow down"}, retry_after=30))
    manifest = write_pngs(tmp_path, [10])
    async with clock.autojump():
        summary = await run_batch(
            manifest,
            fake_run_settings(tmp_path),
            clock=clock,
            transports=Transports(fake, fake.blob),
        )
    assert summary.exit_code == 0
    polls = [c for c in fake.calls if c.endpoint == "get_submission"]
    assert polls[0].status == 429
    assert polls[1].at - polls[0].at >= 30.0
    assert fake.violations == []
