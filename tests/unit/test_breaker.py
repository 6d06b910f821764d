"""The circuit breaker on the fake clock: waiting instead of failing, one probe at a time
with backoff, a gradual release, and a clean give-up after max_outage."""

from __future__ import annotations

import itertools

import anyio
import pytest

from batcher.breaker import Breaker, BreakerPolicy, Breakers
from batcher.clock import FakeClock
from batcher.errors import RequestTimeoutError, ServiceUnreachable, TransportError

pytestmark = pytest.mark.anyio


async def retried(breaker: Breaker, host: Host) -> str:
    """What the Retrier does with a failure below the threshold: wait, try again."""
    while True:
        try:
            return await breaker.call(host.send)
        except TransportError:
            await host.clock.sleep(0.5)


class Host:
    """A host that is down until ``up_at`` (clock time) and counts what reaches it."""

    def __init__(self, clock: FakeClock, up_at: float) -> None:
        self.clock, self.up_at = clock, up_at
        self.attempts: list[float] = []
        self.running = 0
        self.max_running_after_up = 0

    async def send(self) -> str:
        self.attempts.append(self.clock.now())
        if self.clock.now() < self.up_at:
            raise TransportError("cannot connect", ambiguous=False)
        self.running += 1
        self.max_running_after_up = max(self.max_running_after_up, self.running)
        try:
            await self.clock.sleep(0.1)
        finally:
            self.running -= 1
        return "ok"


async def test_timeouts_below_the_threshold_pass_and_a_success_resets_the_count() -> None:
    clock = FakeClock()
    breaker = Breaker("h", clock, BreakerPolicy(threshold=3))

    async def slow() -> str:
        raise RequestTimeoutError("no answer")

    for _ in range(2):
        with pytest.raises(RequestTimeoutError):
            await breaker.call(slow)
    assert not breaker.is_open
    assert await breaker.call(lambda: _value("x")) == "x"
    with pytest.raises(RequestTimeoutError):
        await breaker.call(slow)  # the success reset the count: 1 of 3
    assert not breaker.is_open


async def test_one_refused_connection_opens_it_and_is_sent_again_once_the_host_is_back() -> None:
    clock = FakeClock(start=0.0)
    host = Host(clock, up_at=5.0)
    breaker = Breaker("h", clock, BreakerPolicy(threshold=3))
    async with clock.autojump():
        assert await breaker.call(host.send) == "ok"  # no error reached the caller
    assert breaker.opened == 1
    assert host.attempts[0] == 0.0 and len(host.attempts) <= 5


async def _value(v: str) -> str:
    return v


async def test_an_outage_holds_every_sender_and_only_probes_go_out() -> None:
    clock = FakeClock(start=0.0)
    host = Host(clock, up_at=100.0)
    breaker = Breaker("api", clock, BreakerPolicy(threshold=3, probe_initial=1.0, probe_max=30.0))
    results: list[str] = []

    async def sender() -> None:
        results.append(await retried(breaker, host))

    async with clock.autojump(), anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(sender)
    assert results == ["ok"] * 20  # nobody failed
    assert breaker.opened == 1 and not breaker.is_open
    refused = [t for t in host.attempts if t < 100.0]
    # 20 first attempts at t=0 (2 retried at 0.5), then probes at 1, 3, 7, 15, 31, 61, 91.
    assert len(refused) <= 20 + 2 + 8
    probe_times = sorted(set(refused) - {0.0, 0.5})
    gaps = [b - a for a, b in itertools.pairwise(probe_times)]
    assert gaps == sorted(gaps) and max(gaps) <= 30.0  # exponential backoff, capped
    assert len(probe_times) == len([t for t in refused if t > 0])  # one probe at a time
    assert host.max_running_after_up < 20  # released gradually, not all at once


async def test_notice_names_the_host_and_the_time_it_went_away() -> None:
    clock = FakeClock(start=0.0)
    breakers = Breakers(clock, BreakerPolicy(threshold=1))
    breaker = breakers.for_host("MediaMagic API example:443")
    assert breakers.notice() is None

    async def refuse() -> str:
        raise TransportError("cannot connect", ambiguous=False)

    async with clock.autojump(), anyio.create_task_group() as tg:
        tg.start_soon(breaker.call, refuse)
        await clock.sleep(0.5)
        text = breakers.notice()
        tg.cancel_scope.cancel()
    assert text is not None
    assert text.startswith("MediaMagic API example:443 unreachable since ")
    assert "waiting" in text
    assert breaker.since == 0.0


async def test_after_max_outage_every_waiter_gets_service_unreachable() -> None:
    clock = FakeClock(start=0.0)
    host = Host(clock, up_at=10_000.0)
    breaker = Breaker("blob", clock, BreakerPolicy(threshold=2, max_outage=300.0))
    errors: list[BaseException] = []

    async def sender() -> None:
        try:
            await retried(breaker, host)
        except ServiceUnreachable as exc:
            errors.append(exc)

    async with clock.autojump(), anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(sender)
    assert len(errors) == 5
    assert 300.0 <= clock.now() < 301.0  # gave up at max_outage, after a last probe
    assert max(host.attempts) == pytest.approx(300.0)
    assert "re-run the same command" in str(errors[0])
    with pytest.raises(ServiceUnreachable):
        await breaker.call(host.send)  # and stays given up: no request goes out
    assert max(host.attempts) == pytest.approx(300.0)


async def test_a_timeout_counts_but_is_handed_to_the_caller() -> None:
    clock = FakeClock()
    breaker = Breaker("h", clock, BreakerPolicy(threshold=2))
    calls = 0

    async def slow() -> str:
        nonlocal calls
        calls += 1
        raise RequestTimeoutError("no answer")  # may have reached the service

    for _ in range(2):
        with pytest.raises(RequestTimeoutError):
            await breaker.call(slow)
    assert calls == 2  # never re-sent by the breaker itself
    assert breaker.is_open


async def test_gateway_answers_count_as_an_outage_but_reach_the_caller() -> None:
    clock = FakeClock()
    breaker = Breaker("h", clock, BreakerPolicy(threshold=3))
    for _ in range(3):
        assert await breaker.call(lambda: _value("503"), failed=lambda v: v == "503") == "503"
    assert breaker.is_open
