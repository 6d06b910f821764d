"""BlobUploader against the in-memory FakeBlobService: no sockets, no real sleeping."""

from __future__ import annotations

import dataclasses
import os
import random
from functools import partial
from pathlib import Path

import aiohttp
import anyio
import anyio.lowlevel
import pytest

from batcher.blob.budget import MemoryBudget
from batcher.blob.reader import LocalFile
from batcher.blob.sas import SasGrant
from batcher.blob.staged import InMemoryStagedBlockStore
from batcher.blob.testing import FakeBlobService, FakeRequest
from batcher.blob.uploader import BlobSettings, BlobUploader
from batcher.clock import FakeClock
from batcher.errors import BlobError, BlobMd5MismatchError, FileChangedError, TransportError
from batcher.retry import Retrier, RetryPolicy

KIB = 1024
BLOCK = 64 * KIB
SETTINGS = BlobSettings(block_size=BLOCK, single_put_max=BLOCK, block_concurrency=3)
AZURE_HEADERS = {
    "content-md5",
    "content-type",
    "x-ms-blob-type",
    "x-ms-blob-content-type",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Source:
    """A SasSource handing out numbered signatures: s0, s1, ..."""

    def __init__(self, clock: FakeClock, name: str, *, sp: str = "cw", life: float = 3600.0):
        self.clock, self.name, self.sp, self.life = clock, name, sp, life
        self.calls: list[bool] = []

    async def __call__(self, *, refresh: bool) -> SasGrant:
        sig = f"s{len(self.calls)}"
        self.calls.append(refresh)
        wall = self.clock.wall()
        url = f"https://fake.blob/acct/c/{self.name}?sv=2025-11-05&sp={self.sp}&sig={sig}"
        return SasGrant(url=url, expires_at=wall + self.life)


class Rig:
    def __init__(self, tmp_path: Path, settings: BlobSettings = SETTINGS, budget: int = 1 << 30):
        self.tmp_path = tmp_path
        self.fake = FakeBlobService()
        self.clock = FakeClock()
        self.budget = MemoryBudget(budget)
        self.store = InMemoryStagedBlockStore()
        retrier = Retrier(RetryPolicy(initial_wait=0.1), clock=self.clock, rng=random.Random(1))
        self.uploader = BlobUploader.from_transport(
            self.fake, settings, self.budget, retrier, self.store, self.clock
        )

    def file(self, name: str, size: int) -> tuple[LocalFile, bytes]:
        data = os.urandom(size)
        path = self.tmp_path / name
        path.write_bytes(data)
        return LocalFile.stat(path), data

    def stored(self, name: str) -> bytes | None:
        return self.fake.blobs[f"/acct/c/{name}"].data


@pytest.mark.anyio
async def test_multi_block_file_arrives_intact(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    local, data = rig.file("a.bin", 5 * BLOCK + 123)
    seen: list[int] = []
    source = Source(rig.clock, "a.bin")
    stats = await rig.uploader.upload(
        local, source, key="k", content_type="video/mp4", progress=seen.append
    )
    assert rig.stored("a.bin") == data
    assert rig.fake.blobs["/acct/c/a.bin"].content_type == "video/mp4"
    assert (stats.blocks_total, stats.blocks_sent, stats.blocks_skipped) == (6, 6, 0)
    assert stats.requests == 7
    assert stats.bytes_sent == len(data)
    assert sum(seen) == len(data)
    assert all("Content-MD5" in r.headers for r in rig.fake.log)
    assert source.calls == [False]
    assert rig.store.staged("k") == set()  # forgotten once committed


@pytest.mark.anyio
@pytest.mark.parametrize("size", [0, 1, BLOCK])
async def test_small_files_are_one_put_blob(tmp_path: Path, size: int) -> None:
    rig = Rig(tmp_path)
    local, data = rig.file("s.png", size)
    stats = await rig.uploader.upload(
        local, Source(rig.clock, "s.png"), key="k", content_type="image/png"
    )
    assert rig.stored("s.png") == data
    [req] = rig.fake.log
    assert req.op == "Put Blob"
    assert set(req.headers) == {"x-ms-blob-type", "Content-MD5", "Content-Type"}
    assert req.headers["Content-Type"] == "image/png"
    assert (stats.requests, stats.blocks_total) == (1, 0)


@pytest.mark.anyio
async def test_blob_requests_carry_only_what_azure_needs(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    local, _ = rig.file("h.bin", 3 * BLOCK)
    await rig.uploader.upload(local, Source(rig.clock, "h.bin"), key="k", content_type="x/y")
    for req in rig.fake.log:
        assert {h.lower() for h in req.headers} <= AZURE_HEADERS, req.op
        assert "comp" in req.query


@pytest.mark.anyio
async def test_memory_budget_is_never_exceeded_across_files(tmp_path: Path) -> None:
    limit = 3 * BLOCK + BLOCK // 2
    rig = Rig(tmp_path, BlobSettings(block_size=BLOCK, single_put_max=BLOCK), budget=limit)
    files = [rig.file(f"f{i}.bin", 6 * BLOCK + i) for i in range(5)]
    async with anyio.create_task_group() as tg:
        for i, (local, _) in enumerate(files):
            upload = partial(rig.uploader.upload, key=f"k{i}")
            tg.start_soon(upload, local, Source(rig.clock, f"f{i}.bin"))
    for i, (_, data) in enumerate(files):
        assert rig.stored(f"f{i}.bin") == data
    assert rig.budget.peak <= limit
    assert rig.budget.peak >= 3 * BLOCK  # the budget, not the file count, was the limit
    assert rig.fake.max_in_flight_bytes <= limit
    assert rig.budget.used == 0


@pytest.mark.anyio
async def test_503_with_retry_after_is_retried_after_the_wait(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    local, data = rig.file("r.bin", 2 * BLOCK)
    rig.fake.fail("Put Block", 503, "ServerBusy", retry_after="7", times=2)
    stats = await rig.uploader.upload(local, Source(rig.clock, "r.bin"), key="k")
    assert rig.stored("r.bin") == data
    assert stats.retries == 2
    assert len(rig.clock.sleeps) == 2
    assert all(s >= 7 for s in rig.clock.sleeps)


@pytest.mark.anyio
async def test_dropped_connection_is_retried(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    local, data = rig.file("d.bin", 2 * BLOCK)
    rig.fake.raise_error("Put Block List", TransportError("Put Block List: reset"))
    stats = await rig.uploader.upload(local, Source(rig.clock, "d.bin"), key="k")
    assert rig.stored("d.bin") == data
    assert stats.retries == 1


@pytest.mark.anyio
async def test_client_error_fails_at_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    local, _ = rig.file("e.bin", 4 * BLOCK)
    rig.fake.fail("Put Block", 400, "InvalidHeaderValue")
    with pytest.raises(BlobError) as info:
        await rig.uploader.upload(local, Source(rig.clock, "e.bin"), key="k")
    assert info.value.http_status == 400
    assert rig.clock.sleeps == []
    assert rig.fake.ops("Put Block List") == []


@pytest.mark.anyio
async def test_expired_sas_mid_file_is_refreshed_and_staged_blocks_kept(tmp_path: Path) -> None:
    rig = Rig(tmp_path, BlobSettings(block_size=BLOCK, single_put_max=0, block_concurrency=1))
    local, data = rig.file("x.bin", 5 * BLOCK)
    source = Source(rig.clock, "x.bin")

    async def expire_after_two(req: FakeRequest) -> None:
        if len(rig.fake.ops("Put Block")) == 3:
            rig.fake.expired_sigs.add("s0")

    rig.fake.before = expire_after_two
    stats = await rig.uploader.upload(local, source, key="k")
    assert rig.stored("x.bin") == data
    assert source.calls == [False, True]
    assert stats.sas_refreshes == 1
    assert len(rig.fake.ops("Put Block")) == 5 + 1  # only the refused block went twice


@pytest.mark.anyio
async def test_sas_is_refreshed_before_it_expires(tmp_path: Path) -> None:
    rig = Rig(tmp_path, BlobSettings(block_size=BLOCK, single_put_max=0, block_concurrency=1))
    local, data = rig.file("p.bin", 5 * BLOCK)
    source = Source(rig.clock, "p.bin", life=400.0)  # due 200 s before expiry (half-life)

    async def time_passes(req: FakeRequest) -> None:
        rig.clock.advance(100.0)

    rig.fake.before = time_passes
    stats = await rig.uploader.upload(local, source, key="k")
    assert rig.stored("p.bin") == data
    assert stats.sas_refreshes >= 1
    assert {r.query["sig"] for r in rig.fake.log} >= {"s0", "s1"}
    assert rig.fake.expired_sigs == set()


@pytest.mark.anyio
async def test_a_fresh_sas_refused_again_gives_up(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    local, _ = rig.file("g.bin", 2 * BLOCK)
    rig.fake.expired_sigs.update(f"s{i}" for i in range(10))
    with pytest.raises(BlobError) as info:
        await rig.uploader.upload(local, Source(rig.clock, "g.bin"), key="k")
    assert info.value.sas_expired


async def _crash_after(rig: Rig, local: LocalFile, source: Source, blocks: int) -> None:
    """Cancel the upload when the ``blocks``-th Put Block is about to be handled."""
    async with anyio.create_task_group() as tg:

        async def crash(req: FakeRequest) -> None:
            if len(rig.fake.ops("Put Block")) >= blocks:
                tg.cancel_scope.cancel()
                await anyio.lowlevel.checkpoint()

        rig.fake.before = crash
        tg.start_soon(partial(rig.uploader.upload, key="key"), local, source)
    rig.fake.before = None


@pytest.mark.anyio
@pytest.mark.parametrize("sp", ["rcw", "cw"])
async def test_resume_sends_only_missing_blocks(tmp_path: Path, sp: str) -> None:
    rig = Rig(tmp_path, dataclasses.replace(SETTINGS, block_concurrency=1))  # see below
    local, data = rig.file("c.bin", 8 * BLOCK + 5)
    source = Source(rig.clock, "c.bin", sp=sp)
    await _crash_after(rig, local, source, blocks=5)
    staged = rig.store.staged("key")
    assert 0 < len(staged) < 9
    rig.fake.log.clear()
    stats = await rig.uploader.upload(local, source, key="key")
    assert rig.stored("c.bin") == data
    assert stats.blocks_skipped == len(staged)
    assert stats.blocks_sent == 9 - len(staged)
    assert len(rig.fake.ops("Put Block")) == 9 - len(staged)
    assert len(rig.fake.ops("Get Block List")) == 1  # answered 403 when the SAS lacks r
    assert stats.bytes_sent <= (9 - len(staged)) * BLOCK


@pytest.mark.anyio
async def test_blocks_the_service_lost_are_sent_again(tmp_path: Path) -> None:
    # One block at a time: when the 3rd is about to be handled, the first two are recorded
    # (with several in flight, a loaded machine could crash before any block finished).
    rig = Rig(tmp_path, dataclasses.replace(SETTINGS, block_concurrency=1))
    local, data = rig.file("l.bin", 4 * BLOCK)
    source = Source(rig.clock, "l.bin", sp="cw")  # cannot list: the store is trusted
    await _crash_after(rig, local, source, blocks=3)
    assert rig.store.staged("key")
    rig.fake.blobs.clear()  # e.g. uncommitted blocks expired after 7 days
    stats = await rig.uploader.upload(local, source, key="key")
    assert rig.stored("l.bin") == data
    assert stats.blocks_sent == 4


@pytest.mark.anyio
async def test_block_damaged_in_transit_is_reread_and_resent_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    local, data = rig.file("m.bin", 3 * BLOCK)
    rig.fake.corrupt("Put Block")
    stats = await rig.uploader.upload(local, Source(rig.clock, "m.bin"), key="k")
    assert rig.stored("m.bin") == data
    assert len(rig.fake.ops("Put Block")) == 4
    assert stats.retries == 0


@pytest.mark.anyio
async def test_block_damaged_twice_fails(tmp_path: Path) -> None:
    rig = Rig(tmp_path, BlobSettings(block_size=BLOCK, single_put_max=0, block_concurrency=1))
    local, _ = rig.file("n.bin", 3 * BLOCK)
    rig.fake.corrupt("Put Block", times=2)
    with pytest.raises(BlobMd5MismatchError):
        await rig.uploader.upload(local, Source(rig.clock, "n.bin"), key="k")


@pytest.mark.anyio
async def test_file_changed_during_upload_is_never_committed(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    local, _ = rig.file("w.bin", 4 * BLOCK)

    async def writer(req: FakeRequest) -> None:
        if req.op == "Put Block":
            with local.path.open("ab") as fh:
                fh.write(b"more")

    rig.fake.before = writer
    with pytest.raises(FileChangedError):
        await rig.uploader.upload(local, Source(rig.clock, "w.bin"), key="k")
    assert rig.fake.ops("Put Block List") == []


@pytest.mark.anyio
async def test_a_session_with_default_headers_is_refused() -> None:
    async with aiohttp.ClientSession(headers={"X-API-Key": "sk_test_x"}) as session:
        with pytest.raises(ValueError, match="X-API-Key"):
            BlobUploader(session, SETTINGS, MemoryBudget(1), Retrier())
