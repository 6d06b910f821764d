"""BlobUploader and the blob operations against a real Azure Blob implementation (Azurite)."""

from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from pathlib import Path

import aiohttp
import anyio
import pytest

from batcher.blob.blocks import block_id, plan_blocks
from batcher.blob.budget import MemoryBudget
from batcher.blob.ops import get_uncommitted_blocks, put_blob, put_block
from batcher.blob.reader import BlockReader, Chunk, LocalFile, md5_b64, open_pread
from batcher.blob.sas import SasGrant
from batcher.blob.staged import InMemoryStagedBlockStore
from batcher.blob.uploader import BlobSettings, BlobUploader
from batcher.errors import BlobError, BlobMd5MismatchError, TransportError
from batcher.retry import Retrier, RetryPolicy
from tests.fixtures.azurite import Azurite

pytestmark = [pytest.mark.azurite, pytest.mark.anyio]

KIB = 1024
BLOCK = 256 * KIB
SETTINGS = BlobSettings(block_size=BLOCK, single_put_max=BLOCK, block_concurrency=4)


class AzuriteSas:
    """SasSource signing a fresh Azurite SAS on every call. ``claim`` is the lifetime it
    reports in ``expires_at`` (defaults to the real one; a larger value models clock skew)."""

    def __init__(
        self, az: Azurite, name: str, *, sp: str = "cw", life: float = 3600, claim: float = 0
    ) -> None:
        self.az, self.name, self.sp, self.life, self.claim = az, name, sp, life, claim or life
        self.calls: list[bool] = []

    async def __call__(self, *, refresh: bool) -> SasGrant:
        self.calls.append(refresh)
        url = self.az.sas_url(self.name, self.sp, self.life)
        return SasGrant(url=url, expires_at=time.time() + self.claim)


def make_file(tmp_path: Path, name: str, size: int) -> tuple[LocalFile, bytes]:
    data = os.urandom(size)
    (tmp_path / name).write_bytes(data)
    return LocalFile.stat(tmp_path / name), data


@asynccontextmanager
async def uploader(
    settings: BlobSettings = SETTINGS,
    store: InMemoryStagedBlockStore | None = None,
    **kw: object,
) -> AsyncIterator[BlobUploader]:
    policy = RetryPolicy(initial_wait=0.05, max_wait=0.5)
    async with aiohttp.ClientSession() as session:
        yield BlobUploader(
            session,
            settings,
            MemoryBudget(4 * BLOCK),
            Retrier(policy, rng=random.Random(3)),
            store,
            **kw,  # type: ignore[arg-type]
        )


@pytest.mark.parametrize("size", [0, 5, BLOCK, BLOCK + 1, 3 * BLOCK, 5 * BLOCK + 12_345])
async def test_odd_sizes_arrive_byte_identical(
    azurite_container: Azurite, tmp_path: Path, size: int
) -> None:
    local, data = make_file(tmp_path, "f.bin", size)
    async with uploader() as up:
        stats = await up.upload(
            local, AzuriteSas(azurite_container, "f.bin"), key="k", content_type="video/mp4"
        )
    assert azurite_container.download("f.bin") == data
    assert azurite_container.properties("f.bin")["content_type"] == "video/mp4"
    committed, uncommitted = azurite_container.block_list("f.bin")
    assert len(committed) == stats.blocks_total == (0 if size <= BLOCK else -(-size // BLOCK))
    assert uncommitted == []


async def test_multi_mib_blocks_stream_without_resource_warnings(
    azurite_container: Azurite, tmp_path: Path
) -> None:
    """Production-sized bodies (> 1 MiB) go through BlockPayload, not aiohttp's BytesPayload,
    which warns (an error under this suite's filterwarnings) for large bodies."""
    local, data = make_file(tmp_path, "big.bin", 5 * 1024 * KIB + 1)
    big = BlobSettings(block_size=2 * 1024 * KIB, single_put_max=2 * 1024 * KIB)
    async with uploader(big) as up:
        stats = await up.upload(local, AzuriteSas(azurite_container, "big.bin"), key="k")
    assert azurite_container.download("big.bin") == data
    assert stats.blocks_total == 3


async def _upload_until(up: BlobUploader, local: LocalFile, sas: AzuriteSas, nbytes: int) -> None:
    """Start the upload and cancel it (a crash) once ``nbytes`` are on the service."""
    done = 0
    async with anyio.create_task_group() as tg:

        def progress(delta: int) -> None:
            nonlocal done
            done += delta
            if done >= nbytes:
                tg.cancel_scope.cancel()

        tg.start_soon(partial(up.upload, key="key", progress=progress), local, sas)


@pytest.mark.parametrize("sp", ["rcw", "cw"])
async def test_resume_after_a_crash_sends_only_missing_blocks(
    azurite_container: Azurite, tmp_path: Path, sp: str
) -> None:
    local, data = make_file(tmp_path, "r.bin", 12 * BLOCK + 7)
    sas = AzuriteSas(azurite_container, "r.bin", sp=sp)
    store = InMemoryStagedBlockStore()
    async with uploader(store=store) as up:
        await _upload_until(up, local, sas, 4 * BLOCK)
        assert len(store.staged("key")) < 13  # the crash came before the end
        staged = store.staged("key")
        _, uncommitted = azurite_container.block_list("r.bin")
        assert staged <= {bid for bid, _ in uncommitted}
        stats = await up.upload(local, sas, key="key")
    assert azurite_container.download("r.bin") == data
    missing = 13 - len(staged)
    assert stats.blocks_skipped == len(staged) >= 4
    assert stats.bytes_sent <= missing * BLOCK
    assert stats.requests == 1 + missing + 1  # Get Block List (200 or 403), blocks, commit


@pytest.mark.parametrize("sp", ["rcw", "cw"])
async def test_get_block_list_corrects_the_store_only_when_the_sas_can_read(
    azurite_container: Azurite, tmp_path: Path, sp: str
) -> None:
    local, data = make_file(tmp_path, "v.bin", 8 * BLOCK)
    sas = AzuriteSas(azurite_container, "v.bin", sp=sp)
    store = InMemoryStagedBlockStore()
    one_at_a_time = BlobSettings(block_size=BLOCK, single_put_max=BLOCK, block_concurrency=1)
    async with uploader(one_at_a_time, store=store) as up:
        await _upload_until(up, local, sas, 2 * BLOCK)
        plan = plan_blocks(local.size, block_size=BLOCK, single_put_max=BLOCK)
        for i in range(8):  # the journal claims more than the service has
            store.record("key", block_id("key", plan, i), BLOCK)
        _, on_service = azurite_container.block_list("v.bin")
        assert 2 <= len(on_service) < 8
        stats = await up.upload(local, sas, key="key")
    assert azurite_container.download("v.bin") == data
    # With r: Get Block List shows what is missing. Without: the commit is refused
    # (InvalidBlockList) and the file starts over once.
    assert stats.blocks_sent == (8 - len(on_service) if sp == "rcw" else 8)


async def test_ops_against_azurite_map_errors_as_documented(azurite_container: Azurite) -> None:
    data = os.urandom(1000)
    good = Chunk(data=data, md5=md5_b64(data))
    bad = Chunk(data=data, md5=md5_b64(data + b"x"))
    bid = block_id("k", plan_blocks(2000, block_size=1000, single_put_max=0), 0)
    async with aiohttp.ClientSession() as session:
        from batcher.blob.transport import AiohttpTransport

        t = AiohttpTransport(session)
        cw = azurite_container.sas_url("o.bin", "cw")
        with pytest.raises(BlobMd5MismatchError) as md5:
            await put_block(t, cw, bid, bad, time_limit=10)
        assert md5.value.http_status == 400
        with pytest.raises(BlobMd5MismatchError):
            await put_blob(t, cw, bad, content_type=None, time_limit=10)
        await put_block(t, cw, bid, good, time_limit=10)
        with pytest.raises(BlobError) as no_read:
            await get_uncommitted_blocks(t, cw, time_limit=10)
        assert no_read.value.http_status == 403
        assert not no_read.value.sas_expired
        listed = await get_uncommitted_blocks(
            t, azurite_container.sas_url("o.bin", "rcw"), time_limit=10
        )
        assert listed == {bid: 1000}
        expired = azurite_container.sas_url("o.bin", "cw", expiry_seconds=-3600)
        with pytest.raises(BlobError) as old:
            await put_block(t, expired, bid, good, time_limit=10)
        assert old.value.sas_expired
        assert "sig=REDACTED" in old.value.message
        assert expired.split("sig=")[1] not in old.value.message


async def test_connection_refused_is_a_clear_transport_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = b"x"
    async with aiohttp.ClientSession() as session:
        from batcher.blob.transport import AiohttpTransport

        url = f"http://127.0.0.1:{port}/acct/c/b?sv=1&sig=SECRET"
        with pytest.raises(TransportError) as info:
            await put_blob(
                AiohttpTransport(session), url, Chunk(data, md5_b64(data)),
                content_type=None, time_limit=5,
            )  # fmt: skip
    assert not info.value.ambiguous
    assert "SECRET" not in info.value.message


def slow_reader(delay: float) -> object:
    """A ReaderFactory whose reads take ``delay`` seconds: a slow disk, so that a short SAS
    expires mid-file without uploading hundreds of MiB."""

    class Slow:
        def __init__(self, inner: BlockReader) -> None:
            self.inner = inner

        async def read(self, offset: int, length: int) -> Chunk:
            await anyio.sleep(delay)
            return await self.inner.read(offset, length)

    @asynccontextmanager
    async def open_slow(path: Path) -> AsyncIterator[BlockReader]:
        async with open_pread(path) as inner:
            yield Slow(inner)

    return open_slow


@pytest.mark.parametrize("claim", [3, 3600], ids=["honest-expiry", "skewed-expiry"])
async def test_sas_expiring_mid_file_is_refreshed(
    azurite_container: Azurite, tmp_path: Path, claim: float
) -> None:
    """A 3 s SAS, a file that takes ~4 s. Honest ``expires_at``: refreshed ahead of time,
    no request refused. Skewed (the client believes it has an hour): Azurite answers 403
    and the uploader refreshes and carries on from the staged blocks."""
    local, data = make_file(tmp_path, "e.bin", 10 * BLOCK)
    sas = AzuriteSas(azurite_container, "e.bin", life=3, claim=claim)
    settings = BlobSettings(block_size=BLOCK, single_put_max=BLOCK, block_concurrency=1)
    opener: object = slow_reader(0.4)
    async with uploader(settings, open_file=opener) as up:
        stats = await up.upload(local, sas, key="k")
    assert azurite_container.download("e.bin") == data
    assert stats.sas_refreshes >= 1
    assert True in sas.calls
    refused = stats.requests - (10 + 1)
    if claim == 3:
        assert refused == 0
    else:
        assert refused == stats.sas_refreshes


# The opener parameter is typed as ReaderFactory in BlobUploader; keep mypy quiet about the
# test-only factory above by checking its shape once here.
_: type[AbstractAsyncContextManager[BlockReader]] | None = None
