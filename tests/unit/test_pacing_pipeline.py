"""Rate limits, throttle waits, unreachable services and retry counts: the whole pipeline over
the fake service and the fake clock (no sockets, no real waiting)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from batcher.api.testing import Answer, FakeMediaMagic
from batcher.clock import FakeClock
from batcher.errors import Interrupted, UsageError
from batcher.pipeline import Transports, run_batch
from tests.unit.rig import fake_run_settings, report_lines, write_pngs

pytestmark = pytest.mark.anyio
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_a_binding_rate_limit_slows_the_run_but_fails_no_row(tmp_path: Path) -> None:
    # Issue 3: at 2 requests/s per bucket, rows ended `rate_limited` once their attempts
    # were spent on 429s, and a reopened bucket let every waiting request out at once.
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=1.0)
    for bucket in ("upload", "submission_write", "submission_read"):
        fake.rate_limit(bucket, 2.0, burst=1.0, retry_after=1.0)
    manifest = write_pngs(tmp_path, [10] * 40)
    settings = fake_run_settings(tmp_path, upload_workers=16, batch_size=10)
    async with clock.autojump():
        summary = await run_batch(
            manifest, settings, clock=clock, transports=Transports(fake, fake.blob)
        )
    lines = report_lines(tmp_path)
    assert [line["status"] for line in lines] == ["complete"] * 40
    assert summary.exit_code == 0
    assert fake.violations == []
    # Paced, not hammered: far fewer 429s than requests.
    assert sum(fake.rate_limited.values()) < 10


async def test_an_unreachable_service_fails_the_run_in_seconds_naming_the_url(
    tmp_path: Path,
) -> None:
    # Issue 5: a wrong base URL ground on for minutes with every row an error.
    clock = FakeClock()
    fake = FakeMediaMagic(clock)
    fake.outage(0.0, 1e12)
    manifest = write_pngs(tmp_path, [10] * 10)
    async with clock.autojump():
        with pytest.raises(UsageError, match=r"127\.0\.0\.1:9") as caught:
            await run_batch(
                manifest,
                fake_run_settings(tmp_path),
                clock=clock,
                transports=Transports(fake, fake.blob),
            )
    assert clock.now() - 1000.0 < 15
    assert "--base-url" in caught.value.message
    assert len(fake.calls) <= 4
    assert fake.submissions == {}


async def test_one_sas_request_is_retried_by_exactly_one_loop(tmp_path: Path) -> None:
    # Issue 5: one E1 was sent 95 times with --retries 6: the blob job's retrier wrapped the
    # SAS fetch, which had its own retrier.
    clock = FakeClock()
    fake = FakeMediaMagic(clock)
    # A 500 (retryable, and not an outage: the host answers) on every E1.
    fake.script("upload_url", *[Answer(500, {"detail": "boom"}) for _ in range(200)])
    manifest = write_pngs(tmp_path, [200_000])  # presigned
    async with clock.autojump():
        await run_batch(
            manifest,
            fake_run_settings(tmp_path, retry_attempts=6),
            clock=clock,
            transports=Transports(fake, fake.blob),
        )
    [line] = report_lines(tmp_path)
    assert line["status"] == "error"
    assert fake.requests["upload_url"] == 6


async def test_a_huge_retry_after_stops_the_run_cleanly_with_provisional_lines(
    tmp_path: Path,
) -> None:
    # Issue 6: one 429 with Retry-After 3600 failed its row at once, then the run hung.
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=1.0)
    fake.script("direct_upload", Answer(429, {"error": "slow down"}, retry_after=3600))
    manifest = write_pngs(tmp_path, [10] * 5)
    async with clock.autojump():
        with pytest.raises(Interrupted, match="re-run") as caught:
            await run_batch(
                manifest,
                fake_run_settings(tmp_path, upload_workers=1),
                clock=clock,
                transports=Transports(fake, fake.blob),
            )
    assert clock.now() - 1000.0 < 60  # not the hour
    assert "upload" in caught.value.message
    lines = report_lines(tmp_path)
    assert len(lines) == 5
    assert all(line["status"] == "error" for line in lines)
    assert {line["error"]["code"] for line in lines} == {"throttled"}
    assert fake.violations == []
    assert fake.requests["direct_upload"] == 1  # nothing sent into the closed bucket


async def test_a_stop_during_a_long_throttle_wait_ends_the_run_promptly(tmp_path: Path) -> None:
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=1.0)
    fake.script("direct_upload", Answer(429, {"error": "slow down"}, retry_after=250))
    manifest = write_pngs(tmp_path, [10] * 3)
    stopped_at: list[float] = []

    async def stop_soon() -> None:
        await clock.sleep(20)
        stopped_at.append(clock.now())
        os.kill(os.getpid(), signal.SIGTERM)
        # Stay runnable until the event loop has handled the signal, or the fake clock
        # (which jumps whenever every task is blocked) would leap over the grace period.
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            await anyio.lowlevel.checkpoint()

    async with clock.autojump(), anyio.create_task_group() as tg:
        tg.start_soon(stop_soon)
        with pytest.raises(Interrupted):
            await run_batch(
                manifest,
                fake_run_settings(tmp_path, upload_workers=1, shutdown_grace=10.0),
                clock=clock,
                transports=Transports(fake, fake.blob),
                handle_signals=True,
            )
    assert clock.now() - stopped_at[0] <= 10.5
    assert fake.violations == []
    assert len(report_lines(tmp_path)) == 3


async def test_an_asset_whose_status_tells_the_whole_result_costs_no_result_fetch(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=1.0)
    manifest = write_pngs(tmp_path, [10 + i for i in range(12)])
    async with clock.autojump():
        await run_batch(
            manifest,
            fake_run_settings(tmp_path),
            clock=clock,
            transports=Transports(fake, fake.blob),
        )
    lines = report_lines(tmp_path)
    assert [line["status"] for line in lines] == ["complete"] * 12
    clean = [line for line in lines if line["issueCount"] == 0]
    assert clean and len(clean) < 12  # both kinds present
    assert fake.requests["get_asset"] == 12 - len(clean)
    # The line built from E5 is the one E6 would have given.
    fake_e6 = {a.asset_id: a for a in fake.submitted_assets()}
    for line in clean:
        asset = fake_e6[str(line["assetId"])]
        assert line["issues"] == []
        assert line["versionNumber"] == asset.version_number
        assert line["versionGroupId"] == asset.version_group_id
