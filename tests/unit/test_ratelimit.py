from __future__ import annotations

import itertools

import anyio
import pytest

from batcher.clock import FakeClock
from batcher.errors import ThrottledTooLong
from batcher.pacing import DEFAULT_RETRY_AFTER, Pacer


@pytest.mark.anyio
async def test_429_closes_only_its_bucket() -> None:
    clock = FakeClock()
    gates = Pacer(clock)
    gates.on_throttled("upload", 30)
    start = clock.now()
    await gates.acquire("submission_read")
    assert clock.now() == start  # other buckets flow
    await gates.acquire("upload")
    assert clock.now() - start == pytest.approx(30)


@pytest.mark.anyio
async def test_a_later_429_pushes_the_reopening_out() -> None:
    clock = FakeClock()
    gates = Pacer(clock)
    gates.on_throttled("submission_write", 5)
    gates.on_throttled("submission_write", 12)
    gates.on_throttled("submission_write", 3)  # shorter: does not reopen early
    start = clock.now()
    await gates.acquire("submission_write")
    assert clock.now() - start == pytest.approx(12)
    assert gates.statistics()["submission_write"].throttles == 3


@pytest.mark.anyio
async def test_missing_retry_after_uses_the_default() -> None:
    clock = FakeClock()
    gates = Pacer(clock)
    gates.on_throttled("upload", None)
    start = clock.now()
    await gates.acquire("upload")
    assert clock.now() - start == pytest.approx(DEFAULT_RETRY_AFTER)


@pytest.mark.anyio
async def test_a_window_longer_than_the_maximum_is_not_waited_but_stops() -> None:
    clock = FakeClock()
    gates = Pacer(clock, max_wait=300)
    gates.on_throttled("upload", 3600)
    line = gates.closed_line()
    assert line is not None and "upload bucket closed until" in line
    with pytest.raises(ThrottledTooLong, match="re-run") as caught:
        await gates.acquire("upload")
    assert caught.value.bucket == "upload"
    assert clock.sleeps == []  # did not sleep into the hour


@pytest.mark.anyio
async def test_a_reopened_bucket_lets_requests_out_one_by_one() -> None:
    clock = FakeClock()
    gates = Pacer(clock)
    for _ in range(10):
        gates.on_success("upload")
    gates.on_throttled("upload", 5)
    rate = gates.statistics()["upload"].rate
    assert rate is not None and rate < 10
    times = []
    async with clock.autojump():

        async def one() -> None:
            await gates.acquire("upload")
            times.append(clock.now())

        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(one)
    times.sort()
    assert times[0] == pytest.approx(1005.0)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g == pytest.approx(1 / rate) for g in gaps)
