"""Cancelling a run in the middle of a large upload leaves nothing behind: the memory budget
is fully released and no task is left running (httpcore's cancellation tests' habit)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import anyio
import pytest

from batcher.blob.testing import FakeRequest
from batcher.pipeline import _run_stages
from batcher.rows.manifest import read_manifest
from batcher.stages.report import ReportWriter
from tests.unit.rig import PNG, rig

pytestmark = pytest.mark.anyio


async def test_cancel_mid_block_releases_the_budget_and_leaves_no_task(tmp_path: Path) -> None:
    (tmp_path / "big.png").write_bytes(PNG + b"\x01" * 600_000)  # ten 64 KiB blocks
    (tmp_path / "small.png").write_bytes(PNG + b"\x02" * 100)
    manifest = tmp_path / "m.csv"
    manifest.write_text("path\nsmall.png\nbig.png\n")
    before = set(asyncio.all_tasks())
    async with rig(tmp_path, direct_max_bytes=1000, block_concurrency=4) as r:
        in_block = anyio.Event()

        async def hold(req: FakeRequest) -> None:
            if req.op == "Put Block":
                in_block.set()
                await anyio.sleep_forever()

        r.fake.blob.before = hold
        writer = ReportWriter(tmp_path / "r.jsonl", r.journal)
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_run_stages, r.ctx, read_manifest(manifest), writer)
                await in_block.wait()
                assert r.ctx.budget.used > 0  # blocks are held while they are in flight
                scope.cancel()
        writer.close()
        assert scope.cancelled_caught
        assert r.ctx.budget.used == 0
    leftover = set(asyncio.all_tasks()) - before - {asyncio.current_task()}
    assert not [t for t in leftover if not t.done()]
