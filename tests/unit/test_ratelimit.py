from __future__ import annotations

import pytest

from batcher.clock import FakeClock
from batcher.ratelimit import DEFAULT_RETRY_AFTER, RateGates


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_429_closes_only_its_bucket() -> None:
    clock = FakeClock()
    gates = RateGates(clock)
    gates["upload"].close_for(30)
    start = clock.now()
    await gates["submission_read"].wait_open()
    assert clock.now() == start  # other buckets flow
    await gates["upload"].wait_open()
    assert clock.now() - start == pytest.approx(30)


@pytest.mark.anyio
async def test_a_later_429_pushes_the_reopening_out() -> None:
    clock = FakeClock()
    gates = RateGates(clock)
    gates["submission_write"].close_for(5)
    gates["submission_write"].close_for(12)
    gates["submission_write"].close_for(3)  # shorter: does not reopen early
    start = clock.now()
    await gates["submission_write"].wait_open()
    assert clock.now() - start == pytest.approx(12)
    assert gates.statistics()["submission_write"] == 3


@pytest.mark.anyio
async def test_missing_retry_after_uses_the_default() -> None:
    clock = FakeClock()
    gates = RateGates(clock)
    gates["upload"].close_for(None)
    start = clock.now()
    await gates["upload"].wait_open()
    assert clock.now() - start == pytest.approx(DEFAULT_RETRY_AFTER)
