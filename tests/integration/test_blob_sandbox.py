"""BlobUploader against the sandbox's Azure Blob endpoint: SAS URLs from E1, and the
sandbox's seeded fault injection (503/500/502 answers, connections dropped before and after
the service acted)."""

from __future__ import annotations

import os
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from pathlib import Path

import aiohttp
import anyio
import pytest

from batcher.blob.budget import MemoryBudget
from batcher.blob.reader import LocalFile
from batcher.blob.sas import SasGrant, with_params
from batcher.blob.staged import InMemoryStagedBlockStore
from batcher.blob.uploader import BlobSettings, BlobUploader
from batcher.retry import Retrier, RetryPolicy
from batcher.sandbox import DEFAULT_TEST_KEY, FaultSpec, Sandbox, SandboxConfig, running_sandbox

pytestmark = pytest.mark.anyio

BLOCK = 256 * 1024
SETTINGS = BlobSettings(block_size=BLOCK, single_put_max=BLOCK, block_concurrency=4)
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00"  # passes the sandbox's content check


class E1Sas:
    """The real shape of a SasSource: POST /uploads/url (E1) on the API session; a refresh
    asks again for the same filename, which names the same blob."""

    def __init__(self, api: aiohttp.ClientSession, sandbox: Sandbox, filename: str) -> None:
        self.api, self.sandbox, self.filename = api, sandbox, filename
        self.calls: list[bool] = []
        self.url = ""

    async def __call__(self, *, refresh: bool) -> SasGrant:
        self.calls.append(refresh)
        async with self.api.post(
            f"{self.sandbox.base_url}/api/integrations/uploads/url",
            json={"filename": self.filename, "contentType": "video/mp4"},
            headers={"X-API-Key": DEFAULT_TEST_KEY},
        ) as resp:
            assert resp.status == 200, await resp.text()
            body = await resp.json()
        self.url = body["uploadUrl"]
        expires = datetime.fromisoformat(body["expiresAt"].replace("Z", "+00:00"))
        return SasGrant(url=self.url, expires_at=expires.timestamp())


@asynccontextmanager
async def rig(
    config: SandboxConfig, *, clock: Callable[[], float] | None = None, **kw: object
) -> AsyncIterator[tuple[Sandbox, aiohttp.ClientSession, BlobUploader]]:
    policy = RetryPolicy(attempts=8, initial_wait=0.01, max_wait=0.05)
    async with (
        running_sandbox(config, clock=clock) as sb,
        aiohttp.ClientSession() as api,
        aiohttp.ClientSession() as blobs,  # the blob host never sees the API key
    ):
        up = BlobUploader(
            blobs, SETTINGS, MemoryBudget(8 * BLOCK), Retrier(policy, rng=random.Random(5)),
            **kw,  # type: ignore[arg-type]
        )  # fmt: skip
        yield sb, api, up


def make_file(tmp_path: Path, size: int) -> tuple[LocalFile, bytes]:
    data = MP4 + os.urandom(size - len(MP4))
    (tmp_path / "v.mp4").write_bytes(data)
    return LocalFile.stat(tmp_path / "v.mp4"), data


async def download(api: aiohttp.ClientSession, sas_url: str) -> bytes:
    async with api.get(with_params(sas_url)) as resp:
        assert resp.status == 200
        return await resp.read()


async def test_upload_survives_a_storm_of_5xx_and_drops(tmp_path: Path) -> None:
    storm = FaultSpec(
        error_500=0.1, error_502=0.05, error_503=0.2, drop_before=0.05, drop_after=0.05
    )
    config = SandboxConfig(
        sas_permissions="rcw",
        seed=7,
        faults={"blob_put_block": storm, "blob_put_block_list": storm},
    )
    local, data = make_file(tmp_path, 20 * BLOCK + 333)
    async with rig(config) as (sb, api, up):
        sas = E1Sas(api, sb, "v.mp4")
        stats = await up.upload(local, sas, key="v", content_type="video/mp4")
        assert await download(api, sas.url) == data
    assert stats.blocks_sent == 21
    assert stats.retries > 0
    # aiohttp itself re-sends an idempotent PUT once when a reused keep-alive connection
    # was dropped, so some faults never reach our Retrier.
    assert stats.retries <= sb.state.faults_injected


async def test_sas_expiring_mid_file_is_refreshed_through_e1(tmp_path: Path) -> None:
    offset = [0.0]

    def clock() -> float:
        return time.time() + offset[0]

    local, data = make_file(tmp_path, 12 * BLOCK)
    config = SandboxConfig(sas_permissions="rcw", sas_lifetime_seconds=600)
    one = BlobSettings(block_size=BLOCK, single_put_max=BLOCK, block_concurrency=1)
    async with rig(config, clock=clock) as (sb, api, _):
        async with aiohttp.ClientSession() as blobs:
            up = BlobUploader(blobs, one, MemoryBudget(BLOCK), Retrier(rng=random.Random(1)))
            sas = E1Sas(api, sb, "v.mp4")

            def jump(delta: int) -> None:
                if delta > 0 and offset[0] == 0.0:  # after the first block is staged,
                    offset[0] = 3600.0  # the service's clock moves past the SAS expiry

            stats = await up.upload(local, sas, key="v", progress=jump)
        assert await download(api, sas.url) == data
    assert sas.calls[0] is False
    assert True in sas.calls
    assert stats.sas_refreshes >= 1


async def test_resume_on_the_sandbox_without_read_permission(tmp_path: Path) -> None:
    store = InMemoryStagedBlockStore()
    local, data = make_file(tmp_path, 16 * BLOCK)
    async with rig(SandboxConfig(), store=store) as (sb, api, up):  # default SAS: "cw"
        sas = E1Sas(api, sb, "v.mp4")
        done = [0]
        async with anyio.create_task_group() as tg:

            def crash(delta: int) -> None:
                done[0] += delta
                if done[0] >= 6 * BLOCK:
                    tg.cancel_scope.cancel()

            tg.start_soon(partial(up.upload, key="v", progress=crash), local, sas)
        staged = len(store.staged("v"))
        assert 6 <= staged < 16
        stats = await up.upload(local, sas, key="v")
        assert sb.state.requests["blob_get_block_list"] == 1  # asked, refused (no r)
        read_sas = SandboxConfig(sas_permissions="rcw")
    assert stats.blocks_skipped == staged
    assert stats.blocks_sent == 16 - staged
    async with rig(read_sas) as (sb, api, up):  # same file again, to a sandbox that lets us read
        sas = E1Sas(api, sb, "v.mp4")
        await up.upload(local, sas, key="v")
        assert await download(api, sas.url) == data
