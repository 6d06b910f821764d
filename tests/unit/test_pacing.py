"""Adaptive pacing against the fake service's token buckets, on the fake clock: the rate
settles under the limit, re-settles when the limit changes mid-run, a saved burst does not
fool it into climbing past the limit, and never a request goes inside a Retry-After window.

The fake's buckets save a second's worth of tokens (as the sandbox's do by default) and
every request takes 40 ms to reach it, as in ``benchmarks/ratelimit.py``."""

from __future__ import annotations

import anyio
import pytest
from pydantic import SecretStr

from batcher.api.client import MediaMagicClient
from batcher.api.testing import FakeMediaMagic
from batcher.clock import FakeClock
from batcher.pacing import Learned, Pacer
from batcher.retry import Retrier

pytestmark = pytest.mark.anyio
LATENCY = 0.04


def _setup(
    limit: float, *, burst: float | None = None, retry_after: float = 5.0
) -> tuple[FakeClock, FakeMediaMagic, Pacer, MediaMagicClient]:
    clock = FakeClock(0.0)
    fake = FakeMediaMagic(clock, latency=LATENCY)
    burst = limit if burst is None else burst
    fake.rate_limit("upload", limit, burst=burst, retry_after=retry_after)
    pacer = Pacer(clock, max_wait=3600)
    client = MediaMagicClient(
        fake, api_key=SecretStr("sk_test_x"), gates=pacer, retrier=Retrier(clock=clock), clock=clock
    )
    return clock, fake, pacer, client


async def _hammer(
    clock: FakeClock,
    client: MediaMagicClient,
    until: float,
    changes: dict[float, float] | None = None,
    fake: FakeMediaMagic | None = None,
    *,
    requests: int | None = None,
) -> None:
    """16 workers sending as fast as the gate lets them, until ``until`` (or ``requests``
    sent); ``changes`` sets the fake's limit at those times (burst: a second's worth)."""
    left = [requests if requests is not None else -1]

    async def worker() -> None:
        while clock.now() < until and left[0] != 0:
            left[0] -= 1
            await client.upload_url("a.png", "image/png")

    async def changer() -> None:
        last = clock.now()
        for at, rate in (changes or {}).items():
            await clock.sleep(at - last)
            last = at
            assert fake is not None
            fake.rate_limit("upload", rate, burst=rate, retry_after=5.0)

    async with clock.autojump(), anyio.create_task_group() as tg:
        tg.start_soon(changer)
        for _ in range(16):
            tg.start_soon(worker)


def _window(fake: FakeMediaMagic, start: float, end: float) -> tuple[float, int]:
    """Accepted requests/s, and episodes of 429s (one per bucket closure), in the window."""
    ok = sum(1 for c in fake.calls if start <= c.at < end and c.status == 200)
    refused = sorted(c.at for c in fake.calls if start <= c.at < end and c.status == 429)
    episodes = sum(1 for i, at in enumerate(refused) if i == 0 or at - refused[i - 1] > 1.0)
    return ok / (end - start), episodes


async def test_the_rate_settles_just_under_the_limit_and_429s_stop() -> None:
    clock, fake, pacer, client = _setup(25)
    await _hammer(clock, client, 900)
    rate, episodes = _window(fake, 60, 900)
    assert 0.92 * 25 <= rate <= 25
    # Only the rare probes for a raised limit (their gaps double), not a bang every minute.
    assert episodes <= 4
    settled = pacer.statistics()["upload"].rate
    assert settled is not None and settled <= 25
    assert fake.violations == []


async def test_a_saved_burst_does_not_hide_an_overshoot() -> None:
    # The bug: after every reopening the service's refilled burst answered 200 to a rate
    # over the limit for seconds, the pacer took that as "the rate held" and stepped up,
    # so it climbed to 31/s against 25/s and met a 429 (a whole Retry-After) every minute.
    clock, fake, _, client = _setup(25, burst=100, retry_after=30)
    await _hammer(clock, client, 1200)
    rate, episodes = _window(fake, 120, 1200)
    assert 0.9 * 25 <= rate <= 25
    assert episodes <= 3
    assert fake.violations == []


async def test_the_rate_resettles_when_the_limit_falls_and_rises_mid_run() -> None:
    clock, fake, _, client = _setup(25)
    await _hammer(clock, client, 1200, {300: 10, 700: 40}, fake)
    before, _ = _window(fake, 60, 300)
    assert 0.9 * 25 <= before <= 25
    lowered, episodes = _window(fake, 360, 700)  # a minute after the limit fell to 10
    assert 0.85 * 10 <= lowered <= 10
    assert episodes <= 3
    raised, _ = _window(fake, 1000, 1200)  # found again after it rose to 40
    assert raised >= 0.85 * 40
    assert fake.violations == []


async def test_no_saved_burst_still_converges() -> None:
    # A burst of 1: every step over the limit is refused at once, so the estimate is poor;
    # the bracket between what held and what was refused is searched instead.
    clock, fake, _, client = _setup(25, burst=1)
    await _hammer(clock, client, 600)
    rate, episodes = _window(fake, 120, 600)
    assert 0.8 * 25 <= rate <= 25
    assert episodes <= 5
    assert fake.violations == []


async def test_no_binding_limit_means_no_slowdown() -> None:
    clock = FakeClock(0.0)
    fake = FakeMediaMagic(clock)
    pacer = Pacer(clock)
    client = MediaMagicClient(
        fake, api_key=SecretStr("sk_test_x"), gates=pacer, retrier=Retrier(clock=clock), clock=clock
    )
    async with anyio.create_task_group() as tg:
        for _ in range(200):
            tg.start_soon(client.upload_url, "a.png", "image/png")
    assert clock.now() == 0.0
    assert clock.sleeps == []
    assert pacer.statistics()["upload"].rate is None


async def test_a_user_cap_paces_from_the_first_request_and_meets_no_429() -> None:
    clock, fake, _, _ = _setup(25)
    pacer = Pacer(clock, caps={"upload": 20})
    client = MediaMagicClient(
        fake, api_key=SecretStr("sk_test_x"), gates=pacer, retrier=Retrier(clock=clock), clock=clock
    )
    await _hammer(clock, client, 60)
    rate, refused = _window(fake, 0, 60)
    assert 19 <= rate <= 20.1
    assert refused == 0


async def test_a_second_run_starts_at_the_learned_rate_and_meets_no_429() -> None:
    clock, fake, pacer, client = _setup(25, retry_after=30)
    await _hammer(clock, client, 400)
    learned = pacer.learned()["upload"]
    assert 0.9 * 25 <= learned.rate <= 25

    # The next night, a short run: 300 requests, which a 429 would cost a 30 s window.
    clock, fake, pacer, client = _setup(25, retry_after=30)
    pacer.remember({"upload": learned})
    await _hammer(clock, client, 3600, requests=300)
    assert fake.rate_limited["upload"] == 0
    assert clock.now() <= 300 / (0.9 * 25)
    stats = pacer.statistics()["upload"]
    assert stats.remembered == pytest.approx(learned.rate)


async def test_a_remembered_rate_above_a_lowered_limit_is_corrected() -> None:
    clock, fake, pacer, client = _setup(10)
    pacer.remember({"upload": Learned(24.0, 25.0, 5.0, 24.7, settled=True)})
    await _hammer(clock, client, 300)
    rate, episodes = _window(fake, 60, 300)
    assert 0.85 * 10 <= rate <= 10
    assert episodes <= 3
    assert fake.violations == []


async def test_a_bucket_not_yet_limited_is_paced_once_another_bucket_of_the_key_is() -> None:
    # Cold, with Retry-After 30: the upload bucket's 429 came first, then the end-of-run
    # burst of result reads met its own 429 and a second 30 s window on the critical path.
    clock, fake, pacer, client = _setup(25, retry_after=30)
    fake.rate_limit("submission_read", 25, burst=25, retry_after=30)
    await _hammer(clock, client, 3600, requests=100)
    assert fake.rate_limited["upload"] >= 1
    start = clock.now()
    async with clock.autojump(), anyio.create_task_group() as tg:
        for _ in range(60):  # a batch's result fetches, all at once
            tg.start_soon(client.probe, "00000000-0000-4000-8000-000000000000")
    assert fake.rate_limited["submission_read"] == 0
    assert clock.now() - start < 5  # paced at the borrowed rate, not shut for 30 s
    assert pacer.statistics()["submission_read"].rate is not None


async def test_a_remembered_burst_is_not_sent_past_the_users_cap() -> None:
    clock, fake, _, _ = _setup(25)
    pacer = Pacer(clock, caps={"upload": 10})
    pacer.remember({"upload": Learned(24.0, 25.0, 5.0, 24.7, settled=True)})
    client = MediaMagicClient(
        fake, api_key=SecretStr("sk_test_x"), gates=pacer, retrier=Retrier(clock=clock), clock=clock
    )
    await _hammer(clock, client, 30)
    first_second = sum(1 for c in fake.calls if c.at < 1.0 + LATENCY)
    assert first_second <= 11
    rate, refused = _window(fake, 0, 30)
    assert rate <= 10.1 and refused == 0
