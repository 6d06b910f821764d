"""Adaptive pacing against the fake service's token buckets, on the fake clock: the rate
settles under the limit, re-settles when the limit changes mid-run, and never a request goes
inside a Retry-After window."""

from __future__ import annotations

import anyio
import pytest
from pydantic import SecretStr

from batcher.api.client import MediaMagicClient
from batcher.api.testing import FakeMediaMagic
from batcher.clock import FakeClock
from batcher.pacing import Pacer
from batcher.retry import Retrier

pytestmark = pytest.mark.anyio


def _client(clock: FakeClock, fake: FakeMediaMagic, pacer: Pacer) -> MediaMagicClient:
    return MediaMagicClient(
        fake, api_key=SecretStr("sk_test_x"), gates=pacer, retrier=Retrier(clock=clock), clock=clock
    )


async def _hammer(
    clock: FakeClock,
    client: MediaMagicClient,
    until: float,
    changes: dict[float, float] | None = None,
    fake: FakeMediaMagic | None = None,
) -> None:
    async def worker() -> None:
        while clock.now() < until:
            await client.upload_url("a.png", "image/png")

    async def changer() -> None:
        last = clock.now()
        for at, rate in (changes or {}).items():
            await clock.sleep(at - last)
            last = at
            assert fake is not None
            fake.rate_limit("upload", rate, retry_after=5)

    async with clock.autojump(), anyio.create_task_group() as tg:
        tg.start_soon(changer)
        for _ in range(16):
            tg.start_soon(worker)


def _window(fake: FakeMediaMagic, start: float, end: float) -> tuple[float, int]:
    ok = sum(1 for c in fake.calls if start <= c.at < end and c.status == 200)
    refused = sum(1 for c in fake.calls if start <= c.at < end and c.status == 429)
    return ok / (end - start), refused


async def test_the_rate_settles_under_the_limit_and_resettles_when_it_changes() -> None:
    clock = FakeClock(0.0)
    fake = FakeMediaMagic(clock)
    fake.rate_limit("upload", 25, retry_after=5)
    pacer = Pacer(clock)
    await _hammer(clock, _client(clock, fake, pacer), 480, {240: 10}, fake)

    rate, refused = _window(fake, 60, 240)
    assert 0.7 * 25 <= rate <= 25
    assert refused <= 8  # unpaced, 16 workers would meet thousands
    settled = pacer.statistics()["upload"].rate
    assert settled is not None

    rate, refused = _window(fake, 330, 480)  # after the limit fell to 10
    assert 0.7 * 10 <= rate <= 10
    assert refused <= 8
    assert fake.violations == []


async def test_a_raised_limit_is_found_again() -> None:
    clock = FakeClock(0.0)
    fake = FakeMediaMagic(clock)
    fake.rate_limit("upload", 10, retry_after=5)
    pacer = Pacer(clock)
    await _hammer(clock, _client(clock, fake, pacer), 600, {180: 40}, fake)
    before, _ = _window(fake, 60, 180)
    after, _ = _window(fake, 480, 600)
    assert before <= 10
    assert after >= 2 * before  # climbed well past the old limit
    assert fake.violations == []


async def test_no_binding_limit_means_no_slowdown() -> None:
    clock = FakeClock(0.0)
    fake = FakeMediaMagic(clock)
    pacer = Pacer(clock)
    client = _client(clock, fake, pacer)
    async with anyio.create_task_group() as tg:
        for _ in range(200):
            tg.start_soon(client.upload_url, "a.png", "image/png")
    assert clock.now() == 0.0
    assert clock.sleeps == []
    assert pacer.statistics()["upload"].rate is None


async def test_a_user_cap_paces_from_the_first_request_and_meets_no_429() -> None:
    clock = FakeClock(0.0)
    fake = FakeMediaMagic(clock)
    fake.rate_limit("upload", 25, retry_after=5)
    pacer = Pacer(clock, caps={"upload": 20})
    await _hammer(clock, _client(clock, fake, pacer), 60)
    rate, refused = _window(fake, 0, 60)
    assert 19 <= rate <= 20.1
    assert refused == 0
