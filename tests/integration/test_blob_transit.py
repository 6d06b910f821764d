"""A block damaged on the way to a real service (Azurite) is refused by its Content-MD5 and
sent again, correctly, once."""

from __future__ import annotations

import os
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import anyio
import anyio.abc
import pytest
from anyio.abc import SocketAttribute

from batcher.blob.budget import MemoryBudget
from batcher.blob.reader import LocalFile
from batcher.blob.sas import SasGrant
from batcher.blob.uploader import BlobSettings, BlobUploader
from batcher.retry import Retrier, RetryPolicy
from tests.fixtures.azurite import Azurite

pytestmark = [pytest.mark.azurite, pytest.mark.anyio]

BLOCK = 256 * 1024


@asynccontextmanager
async def corrupting_proxy(target_port: int, flip_at: int) -> AsyncIterator[int]:
    """A TCP proxy to 127.0.0.1:``target_port`` that flips one bit at byte ``flip_at`` of the
    first connection's client-to-server stream (the body of its first request)."""
    armed = [True]

    async def pump(
        src: anyio.abc.SocketStream, dst: anyio.abc.SocketStream, flip: int | None
    ) -> None:
        seen = 0
        try:
            async for data in src:
                if flip is not None and seen <= flip < seen + len(data):
                    i = flip - seen
                    data = data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]
                seen += len(data)
                await dst.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass

    async def handle(client: anyio.abc.SocketStream) -> None:
        flip = flip_at if armed[0] else None
        armed[0] = False
        server = await anyio.connect_tcp("127.0.0.1", target_port)
        async with client, server, anyio.create_task_group() as pair:

            async def one_way(
                a: anyio.abc.SocketStream, b: anyio.abc.SocketStream, f: int | None
            ) -> None:
                await pump(a, b, f)
                pair.cancel_scope.cancel()  # either side closing ends the connection

            pair.start_soon(one_way, client, server, flip)
            pair.start_soon(one_way, server, client, None)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        yield listener.extra(SocketAttribute.local_port)
        tg.cancel_scope.cancel()


async def test_block_corrupted_in_transit_is_resent_once(
    azurite_container: Azurite, tmp_path: Path
) -> None:
    data = os.urandom(4 * BLOCK + 99)
    (tmp_path / "t.bin").write_bytes(data)
    local = LocalFile.stat(tmp_path / "t.bin")
    az_port = int(azurite_container.blob_endpoint.split(":")[2].split("/")[0])
    settings = BlobSettings(block_size=BLOCK, single_put_max=BLOCK, block_concurrency=1)
    async with corrupting_proxy(az_port, flip_at=100_000) as proxy_port:

        async def sas(*, refresh: bool) -> SasGrant:
            url = azurite_container.sas_url("t.bin")
            url = url.replace(f"127.0.0.1:{az_port}/", f"127.0.0.1:{proxy_port}/")
            return SasGrant(url=url, expires_at=time.time() + 3600)

        async with aiohttp.ClientSession() as session:
            up = BlobUploader(
                session,
                settings,
                MemoryBudget(4 * BLOCK),
                Retrier(RetryPolicy(initial_wait=0.05), rng=random.Random(1)),
            )
            stats = await up.upload(local, sas, key="k")
    assert azurite_container.download("t.bin") == data
    assert stats.requests == 5 + 1 + 1  # 5 blocks, the damaged one again, the commit
    assert stats.retries == 0  # the MD5 path, not the generic retry, sent it again
