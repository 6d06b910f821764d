"""The link controller and the bandwidth cap on the fake clock: a simulated link whose
requests take the time its capacity says, no sockets, no real waiting."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import anyio
import pytest

from batcher.blob.bandwidth import Bandwidth, mb_per_second
from batcher.blob.budget import MemoryBudget
from batcher.blob.link import LinkController, LinkPolicy, PrioritySlots
from batcher.blob.reader import BlockReader, Chunk, LocalFile, md5_b64
from batcher.blob.sas import SasGrant
from batcher.blob.testing import FakeBlobService, FakeRequest
from batcher.blob.uploader import BlobSettings, BlobUploader
from batcher.clock import FakeClock
from batcher.retry import Retrier, RetryPolicy

pytestmark = pytest.mark.anyio
KIB = 1024
BLOCK = 64 * KIB


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Link:
    """A link of ``capacity`` bytes/s shared by the requests in flight, each also limited
    to ``per_connection`` (a TCP window's worth) and paying ``rtt`` once."""

    def __init__(self, clock: FakeClock, capacity: float, per_connection: float) -> None:
        self.clock, self.capacity, self.per_connection = clock, capacity, per_connection
        self.rtt = 0.01
        self.in_flight = 0
        self.peak = 0

    async def __call__(self, req: FakeRequest) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            rate = min(self.per_connection, self.capacity / self.in_flight)
            await self.clock.sleep(self.rtt + len(req.body) / rate)
        finally:
            self.in_flight -= 1


class Sas:
    def __init__(self, clock: FakeClock, name: str) -> None:
        self.clock, self.name = clock, name

    async def __call__(self, *, refresh: bool) -> SasGrant:
        url = f"https://fake.blob/acct/c/{self.name}?sv=2025-11-05&sp=cw&sig=s"
        return SasGrant(url=url, expires_at=self.clock.wall() + 3600)


class InlineReader:
    """Reads in the event loop: no worker threads, so the fake clock's jumps stay cheap."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def read(self, offset: int, length: int) -> Chunk:
        piece = self.data[offset : offset + length]
        return Chunk(data=piece, md5=md5_b64(piece))


@asynccontextmanager
async def open_inline(path: Path) -> AsyncIterator[BlockReader]:
    yield InlineReader(path.read_bytes())  # noqa: ASYNC240 - small test files


async def _upload_files(
    tmp_path: Path, link_model: Link, controller: LinkController, files: int, blocks: int
) -> float:
    clock = link_model.clock
    fake = FakeBlobService()
    fake.before = link_model
    settings = BlobSettings(block_size=BLOCK, single_put_max=BLOCK, block_concurrency=8)
    retrier = Retrier(RetryPolicy(), clock=clock, rng=random.Random(1))
    uploader = BlobUploader.from_transport(
        fake,
        settings,
        MemoryBudget(1 << 30),
        retrier,
        clock=clock,
        link=controller,
        open_file=open_inline,
    )
    locals_ = []
    for i in range(files):
        path = tmp_path / f"f{i}.bin"
        path.write_bytes(os.urandom(blocks * BLOCK))
        locals_.append(LocalFile.stat(path))
    started = clock.now()
    async with clock.autojump(), anyio.create_task_group() as tg:
        for i, local in enumerate(locals_):
            tg.start_soon(partial(uploader.upload, key=f"k{i}"), local, Sas(clock, f"f{i}.bin"))
    for i in range(files):
        assert fake.blobs[f"/acct/c/f{i}.bin"].data == locals_[i].path.read_bytes()
    return files * blocks * BLOCK / (clock.now() - started)


async def test_on_a_slow_link_a_few_blocks_fill_it_not_the_ceiling(tmp_path: Path) -> None:
    clock = FakeClock()
    # 640 KiB/s in all, 160 KiB/s per connection: four in flight fill the link.
    link = Link(clock, capacity=640 * KIB, per_connection=160 * KIB)
    # risk_seconds=0: the probing alone (the throughput floor would allow 5 of these blocks).
    controller = LinkController(clock, LinkPolicy(ceiling=32, risk_seconds=0.0))
    rate = await _upload_files(tmp_path, link, controller, files=3, blocks=20)
    assert 3 <= controller.limit <= 6, controller.history
    assert link.peak <= 7  # never 4 files x 8 blocks = 32 crawling blocks
    assert rate >= 0.75 * link.capacity  # and the link is still used


async def test_on_a_fast_link_it_grows_to_the_ceiling(tmp_path: Path) -> None:
    clock = FakeClock()
    link = Link(clock, capacity=100_000 * KIB, per_connection=1000 * KIB)  # wants ~100
    controller = LinkController(clock, LinkPolicy(ceiling=8, risk_seconds=0.0))
    await _upload_files(tmp_path, link, controller, files=2, blocks=60)
    # Each request adds 1 MB/s: +1 is worth it while it adds over 20 % (up to 6 or 7).
    assert max(limit for _, limit, _ in controller.history) >= 6, controller.history
    assert controller.slots.peak >= 6


async def test_a_fast_link_gets_its_ceiling_from_the_first_measurement(tmp_path: Path) -> None:
    clock = FakeClock()
    link = Link(clock, capacity=100_000 * KIB, per_connection=1000 * KIB)
    controller = LinkController(clock, LinkPolicy(ceiling=8))
    await _upload_files(tmp_path, link, controller, files=2, blocks=30)
    limits = [limit for _, limit, _ in controller.history]
    # One request alone moves ~0.9 MB/s: half a second of that is 6 blocks, at once.
    assert limits[0] == 1 and limits[1] >= 6, controller.history
    assert max(limits) == 8


async def test_the_throughput_floor_keeps_about_half_a_second_in_flight(tmp_path: Path) -> None:
    clock = FakeClock()
    link = Link(clock, capacity=640 * KIB, per_connection=640 * KIB)  # one request fills it
    controller = LinkController(clock, LinkPolicy(ceiling=32, risk_seconds=0.5))
    await _upload_files(tmp_path, link, controller, files=2, blocks=20)
    # 0.5 s of ~640 KiB/s is 4-5 blocks of 64 KiB: never fewer once measured, few more.
    assert 4 <= controller.limit <= 7, controller.history
    assert all(limit >= 4 for _, limit, _ in controller.history[1:]), controller.history


async def test_a_link_that_one_connection_fills_keeps_few_blocks_in_flight(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    link = Link(clock, capacity=400 * KIB, per_connection=400 * KIB)
    controller = LinkController(clock, LinkPolicy(ceiling=16, risk_seconds=0.0))
    await _upload_files(tmp_path, link, controller, files=2, blocks=20)
    assert controller.limit <= 3, controller.history
    assert link.peak <= 4


def test_timeouts_follow_the_rate_seen_within_floor_and_cap() -> None:
    clock = FakeClock()
    controller = LinkController(clock, LinkPolicy(timeout_floor=30.0, timeout_cap=900.0))
    assert controller.timeout(8 << 20, fallback=62.0) == 62.0  # nothing seen yet
    controller.acknowledged(1_000_000, 1.0)  # 1 MB/s per request
    assert controller.timeout(8_000_000, fallback=62.0) == pytest.approx(30.0 + 16.0)
    for _ in range(40):
        controller.acknowledged(1_000_000, 100.0)  # the link slowed to 10 kB/s
    assert controller.timeout(8_000_000, fallback=62.0) == 900.0


async def test_slots_go_to_the_oldest_file_first() -> None:
    slots = PrioritySlots(1)
    order: list[tuple[int, int]] = []
    await slots.acquire((0, 0))

    async def take(priority: tuple[int, int]) -> None:
        await slots.acquire(priority)
        order.append(priority)
        slots.release()

    async with anyio.create_task_group() as tg:
        for priority in [(2, 0), (1, 5), (1, 3), (0, 9)]:
            tg.start_soon(take, priority)
        await anyio.wait_all_tasks_blocked()
        slots.release()
    assert order == [(0, 9), (1, 3), (1, 5), (2, 0)]
    assert slots.used == 0


async def test_a_cancelled_waiter_does_not_keep_its_slot() -> None:
    slots = PrioritySlots(1)
    await slots.acquire((0, 0))
    async with anyio.create_task_group() as tg:
        tg.start_soon(slots.acquire, (1, 0))
        await anyio.wait_all_tasks_blocked()
        tg.cancel_scope.cancel()
    slots.release()
    assert slots.used == 0
    await slots.acquire((2, 0))
    assert slots.used == 1


async def test_bandwidth_cap_holds_the_average_rate_on_the_clock() -> None:
    clock = FakeClock(start=0.0)
    cap = Bandwidth(1_000_000, clock)  # 1 MB/s
    for _ in range(40):
        await cap.take(256 * KIB)  # what BlockPayload writes at a time
    sent = 40 * 256 * KIB
    assert clock.now() >= sent / 1_000_000 - 0.25 - 1e-9  # at most one burst early
    assert clock.now() <= sent / 1_000_000


async def test_bandwidth_is_shared_by_concurrent_senders() -> None:
    clock = FakeClock(start=0.0)
    cap = Bandwidth(500_000, clock)

    async def sender() -> None:
        for _ in range(10):
            await cap.take(100_000)

    async with clock.autojump(), anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(sender)
    assert clock.now() == pytest.approx(4_000_000 / 500_000 - 0.25, abs=0.01)


def test_bwlimit_is_decimal_megabytes() -> None:
    assert mb_per_second("25") == 25_000_000
    assert mb_per_second("0") is None
    assert mb_per_second(None) is None
    with pytest.raises(ValueError, match="bwlimit"):
        mb_per_second("-1")
