"""Shared rate-limit gates: one book for all shards, and each shard alone at 1/N when lost."""

from __future__ import annotations

import anyio
import pytest

from batcher.clock import FakeClock
from batcher.ratelimit import Bucket
from batcher.scale.gates import GateServiceLost, SharedGates
from batcher.scale.pacing import GateBook

pytestmark = pytest.mark.anyio


class BookService:
    """The actor's logic in-process (the seam: Ray is not needed to test the protocol)."""

    def __init__(self, clock: FakeClock) -> None:
        self.book = GateBook()
        self.clock = clock
        self.lost = False
        self.hang = False
        self.asked = 0

    async def acquire(self, bucket: Bucket) -> tuple[float, float | None, int]:
        self.asked += 1
        if self.lost:
            raise GateServiceLost("actor died")
        if self.hang:
            await anyio.sleep_forever()
        rate, burst = self.book.rate(bucket)
        return self.book.acquire(bucket, self.clock.now()), rate, burst

    def close_for(self, bucket: Bucket, seconds: float | None) -> None:
        if self.lost:
            raise GateServiceLost("actor died")
        self.book.close_for(bucket, self.clock.now(), seconds)


async def test_no_shard_sends_inside_another_shards_retry_after() -> None:
    clock = FakeClock()
    service = BookService(clock)
    a, b = SharedGates(service, clock, 3), SharedGates(service, clock, 3)
    a.on_throttled("upload", 2.0)  # shard A met a 429
    start = clock.now()
    await b.acquire("submission_read")
    assert clock.now() == start  # other buckets flow
    await b.acquire("upload")
    assert clock.now() - start == pytest.approx(2.0)  # B waited out A's window
    assert not b.fell_back


async def test_the_shared_rate_is_one_bucket_for_all_shards() -> None:
    clock = FakeClock()
    service = BookService(clock)
    service.book.set_rate("upload", clock.now(), 4.0, burst=1)
    shards = [SharedGates(service, clock, 2) for _ in range(2)]
    start = clock.now()
    for _ in range(4):
        for gates in shards:
            await gates.acquire("upload")
    # 8 requests at 4/s, whichever shard sends them: the first at once, then every 0.25 s.
    assert clock.now() - start == pytest.approx(7 * 0.25)


async def test_a_lost_actor_leaves_each_shard_its_own_gates_at_one_nth() -> None:
    clock = FakeClock()
    service = BookService(clock)
    service.book.set_rate("upload", clock.now(), 6.0, burst=3)
    gates = SharedGates(service, clock, 3)
    await gates.acquire("upload")  # hears the rate
    gates.on_throttled("upload", 1.0)  # and remembers its own 429
    service.lost = True
    start = clock.now()
    await gates.acquire("upload")
    assert gates.fell_back
    assert clock.now() - start == pytest.approx(1.0)  # its own window still holds
    t0 = clock.now()
    for _ in range(4):
        await gates.acquire("upload")
    assert clock.now() - t0 == pytest.approx(4 * 0.5)  # 6/s shared by 3: 2/s, burst 1
    asked = service.asked
    await gates.acquire("upload")
    assert service.asked == asked  # it does not go back to the (restarted, amnesic) actor


async def test_an_actor_that_stops_answering_counts_as_lost() -> None:
    clock = FakeClock()
    service = BookService(clock)
    service.hang = True
    gates = SharedGates(service, clock, 2, timeout=0.05)
    with anyio.fail_after(5):
        await gates.acquire("upload")
    assert gates.fell_back
    gates.on_throttled("upload", 3.0)  # no service: local only, and no error
    start = clock.now()
    await gates.acquire("upload")
    assert clock.now() - start == pytest.approx(3.0)


async def test_without_a_service_a_shard_uses_its_own_gates() -> None:
    clock = FakeClock()
    gates = SharedGates(None, clock, 4)
    gates.on_throttled("submission_write", None)
    start = clock.now()
    await gates.acquire("submission_write")
    assert clock.now() - start == pytest.approx(5.0)  # the documented default Retry-After
