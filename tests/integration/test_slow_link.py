"""A slow link for real: the sandbox reads upload bodies at a few MB/s (one pace shared by
every connection), and batcher keeps few blocks in flight on it; ``--bwlimit`` caps what
batcher itself sends."""

from __future__ import annotations

import hashlib
import os
import random
import time
from functools import partial
from pathlib import Path

import aiohttp
import anyio
import pytest

from batcher import run_batch
from batcher.blob.budget import MemoryBudget
from batcher.blob.link import LinkController, LinkPolicy
from batcher.blob.reader import LocalFile
from batcher.blob.transport import AiohttpTransport
from batcher.blob.uploader import BlobSettings, BlobUploader
from batcher.clock import RealClock
from batcher.config import MiB
from batcher.retry import Retrier, RetryPolicy
from batcher.sandbox import SandboxConfig, running_sandbox
from tests.integration.helpers import fast_settings, read_report
from tests.integration.test_blob_sandbox import MP4, E1Sas
from tests.media import write_manifest, write_media

pytestmark = pytest.mark.anyio


async def test_on_a_4_mb_s_link_few_blocks_are_in_flight_and_timeouts_follow_the_rate(
    tmp_path: Path,
) -> None:
    config = SandboxConfig(processing_delay=0.05, blob_bandwidth_bytes_per_s=4_000_000)
    clock = RealClock()
    # 2 files x 8 blocks per file would be 16 blocks in flight without the controller.
    link = LinkController(clock, LinkPolicy(ceiling=16))
    block = MiB
    settings = BlobSettings(block_size=block, single_put_max=block, block_concurrency=8)
    files = []
    for i in range(2):
        path = tmp_path / f"big{i}.mp4"
        path.write_bytes(MP4 + os.urandom(8 * MiB - len(MP4)))
        files.append(path)
    async with (
        running_sandbox(config) as sb,
        aiohttp.ClientSession() as api,
        aiohttp.ClientSession() as blob,
    ):
        retrier = Retrier(RetryPolicy(initial_wait=0.05), clock=clock, rng=random.Random(1))
        uploader = BlobUploader.from_transport(
            AiohttpTransport(blob),
            settings,
            MemoryBudget(64 * MiB),
            retrier,
            clock=clock,
            link=link,
        )
        async with anyio.create_task_group() as tg:
            for i, path in enumerate(files):
                sas = E1Sas(api, sb, path.name)
                tg.start_soon(partial(uploader.upload, key=f"k{i}"), LocalFile.stat(path), sas)
        stored = sorted(b.committed_sha256 or "" for b in sb.state.blobs.values())
    assert stored == sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in files)
    assert len(link.history) >= 3  # it measured, step by step
    # One or two 1 MiB blocks fill a shared 4 MB/s link (0.5 s of it is 2 MB).
    assert link.slots.peak <= 3, link.history
    # The rate each block saw (~1-4 MB/s) sets its timeout: 30 s + 8 MiB / (half of it).
    assert 32.0 < link.timeout(8 * MiB, fallback=0.0) < 60.0


async def test_bwlimit_caps_what_a_run_sends(tmp_path: Path) -> None:
    rows = [{"path": "media/big.mp4"}, {"path": "media/a.pdf"}, {"path": "media/b.pdf"}]
    write_media(tmp_path, "media/big.mp4", 4_000_000)  # presigned: blocks, paced per slice
    write_media(tmp_path, "media/a.pdf", 1_000_000)  # direct: paced before it is sent
    write_media(tmp_path, "media/b.pdf", 1_000_000)
    manifest = write_manifest(tmp_path, rows)
    async with running_sandbox(SandboxConfig(processing_delay=0.05)) as sb:
        settings = fast_settings(
            sb.base_url,
            tmp_path,
            direct_max_bytes=2_000_000,
            block_size=MiB,
            bwlimit=3_000_000.0,
        )
        started = time.monotonic()
        summary = await run_batch(manifest, settings)
        elapsed = time.monotonic() - started
    assert summary.exit_code == 0
    assert [line["status"] for line in read_report(settings.report_path)] == ["complete"] * 3  # type: ignore[arg-type]
    # 6 MB at 3 MB/s: at least 2 s, less the one burst the bucket allows (a lower bound on
    # time is what the cap promises; no upper bound is asserted).
    assert elapsed >= 6_000_000 / 3_000_000 - 0.25 - 0.05
