from __future__ import annotations

import random

import pytest

from batcher.clock import FakeClock
from batcher.errors import ApiError, RateLimitedError, ServerError
from batcher.retry import Retrier, RetryPolicy


def _retrier(clock: FakeClock, **kw: float) -> Retrier:
    policy = RetryPolicy(**kw)  # type: ignore[arg-type]
    return Retrier(policy=policy, clock=clock, rng=random.Random(1))


@pytest.mark.anyio
async def test_retryable_error_is_retried_until_success() -> None:
    clock = FakeClock()
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ServerError("boom", http_status=500)
        return "ok"

    assert await _retrier(clock).call(flaky) == "ok"
    assert calls == 3
    assert len(clock.sleeps) == 2


@pytest.mark.anyio
async def test_non_retryable_error_is_raised_at_once() -> None:
    clock = FakeClock()
    calls = 0

    async def refused() -> None:
        nonlocal calls
        calls += 1
        raise ApiError("no", code="conflict", http_status=409)

    with pytest.raises(ApiError):
        await _retrier(clock).call(refused)
    assert calls == 1
    assert clock.sleeps == []


@pytest.mark.anyio
async def test_retry_after_is_a_floor_for_the_wait() -> None:
    clock = FakeClock()
    calls = 0

    async def throttled() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RateLimitedError("slow down", retry_after=17)
        return "ok"

    assert await _retrier(clock, initial_wait=0.1).call(throttled) == "ok"
    assert clock.sleeps == [17]


@pytest.mark.anyio
async def test_attempts_spent_reraises_the_last_error() -> None:
    clock = FakeClock()
    calls = 0

    async def always() -> None:
        nonlocal calls
        calls += 1
        raise ServerError(f"attempt {calls}", http_status=502)

    with pytest.raises(ServerError, match="attempt 4"):
        await _retrier(clock, attempts=4).call(always)
    assert calls == 4


@pytest.mark.anyio
async def test_time_budget_stops_retrying_before_attempts_run_out() -> None:
    clock = FakeClock()
    calls = 0

    async def always() -> None:
        nonlocal calls
        calls += 1
        raise RateLimitedError("slow down", retry_after=60)

    with pytest.raises(RateLimitedError):
        await _retrier(clock, attempts=10, budget_seconds=100).call(always)
    assert calls == 2  # the second 60 s wait would pass the 100 s budget


def test_backoff_is_full_jitter_under_a_growing_capped_ceiling() -> None:
    policy = RetryPolicy(initial_wait=1, multiplier=2, max_wait=8)
    assert [policy.ceiling(n) for n in range(6)] == [1, 2, 4, 8, 8, 8]
    rng = random.Random(0)
    for n in range(6):
        ceiling = policy.ceiling(n)
        waits = [policy.backoff(n, rng) for _ in range(2000)]
        assert all(0 <= w <= ceiling for w in waits)
        # Full jitter: uniform over the whole [0, ceiling], so retries of many clients
        # spread out instead of bunching near the ceiling.
        assert min(waits) < 0.05 * ceiling
        assert max(waits) > 0.95 * ceiling
        assert abs(sum(waits) / len(waits) - ceiling / 2) < 0.05 * ceiling


@pytest.mark.anyio
async def test_429s_spend_no_attempts_only_time() -> None:
    clock = FakeClock()
    calls = 0

    async def paced() -> str:
        nonlocal calls
        calls += 1
        if calls <= 5:
            raise RateLimitedError("slow down", retry_after=2)
        if calls == 6:
            raise ServerError("boom", http_status=500)
        return "ok"

    assert await _retrier(clock, attempts=2, budget_seconds=100).call(paced) == "ok"
    assert calls == 7  # five 429s, then one failed attempt and one that succeeded
