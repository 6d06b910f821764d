"""The whole pipeline over the fake service and the fake clock: no sockets, no real waiting."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from batcher.api.testing import Answer, FakeMediaMagic
from batcher.clock import FakeClock
from batcher.config import PollSettings, Settings
from batcher.pipeline import Transports, run_batch

pytestmark = pytest.mark.anyio
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _manifest(tmp_path: Path, sizes: list[int]) -> Path:
    rows = ["path"]
    for i, size in enumerate(sizes):
        path = tmp_path / f"f{i}.png"
        path.write_bytes(PNG + bytes([i % 251]) * size)
        rows.append(path.name)
    manifest = tmp_path / "m.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def _settings(tmp_path: Path, **kw: object) -> Settings:
    values: dict[str, object] = {
        "base_url": "http://127.0.0.1:9",
        "api_key": SecretStr("sk_test_fake"),
        "report_path": tmp_path / "r.jsonl",
        "block_size": 64 * 1024,
        "direct_max_bytes": 100_000,
        "poll": PollSettings(initial=5.0, max_interval=60.0, deadline=3600.0),
    }
    values.update(kw)
    return Settings.model_validate(values)


def _report(tmp_path: Path) -> list[dict[str, object]]:
    lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    return sorted(lines, key=lambda d: int(str(d["row"])))


async def test_a_run_over_the_fake_service_reports_every_row_in_virtual_time(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=600.0)  # ten minutes of "processing"
    manifest = _manifest(tmp_path, [10, 200_000, 20])  # one presigned file of 4 blocks
    started = time.monotonic()
    async with clock.autojump():
        summary = await run_batch(
            manifest, _settings(tmp_path), clock=clock, transports=Transports(fake, fake.blob)
        )
    assert time.monotonic() - started < 10  # virtual minutes, not real ones
    assert clock.now() - 1000.0 >= 600.0
    assert summary.exit_code == 0
    lines = _report(tmp_path)
    assert [line["status"] for line in lines] == ["complete"] * 3
    assert [line["uploadMethod"] for line in lines] == ["direct", "presigned", "direct"]
    assert len(fake.blob.ops("Put Block")) == 4
    assert fake.keys_seen == {"sk_test_fake"}


async def test_a_30_second_retry_after_is_waited_out_on_the_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=1.0)
    fake.script("get_submission", Answer(429, {"error": "slow down"}, retry_after=30))
    manifest = _manifest(tmp_path, [10])
    async with clock.autojump():
        summary = await run_batch(
            manifest, _settings(tmp_path), clock=clock, transports=Transports(fake, fake.blob)
        )
    assert summary.exit_code == 0
    polls = [c for c in fake.calls if c.endpoint == "get_submission"]
    assert polls[0].status == 429
    assert polls[1].at - polls[0].at >= 30.0
    assert fake.violations == []
