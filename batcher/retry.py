"""Retry ONE call with exponential backoff and full jitter, budgeted by attempts and by time.

Only errors whose ``retryable`` flag is set are retried (the API's 429/500/502, transport
failures, Azure Blob's 500/503); everything else is raised at once. A ``retry_after`` on the
error (HTTP ``Retry-After``) is a floor for the wait. When the budget is spent the last error
is re-raised unchanged, so the report shows what actually happened.

A ``RateLimitedError`` (a 429) is the service pacing us, not a fault: it never spends an
attempt, only time. (The API client handles its 429s below this loop, at the rate-limit gate;
this rule keeps any other caller from failing a row on attempts spent waiting.)

One logical request is retried by exactly one Retrier: callers whose request needs another
retried call first (a blob request needs a SAS from the API) keep that call out of their
loop, or pass ``retry_if`` to refuse its errors.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from batcher.clock import Clock, RealClock
from batcher.errors import BatcherError, RateLimitedError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    """Total tries, the first included."""
    budget_seconds: float = 300.0
    """No new attempt starts after this long since the first one."""
    initial_wait: float = 0.5
    max_wait: float = 30.0
    multiplier: float = 2.0

    def backoff(self, retry_index: int, rng: random.Random) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(cap, base * mult**n)]."""
        return rng.uniform(0.0, self.ceiling(retry_index))

    def ceiling(self, retry_index: int) -> float:
        """The longest wait before retry ``retry_index`` (0: the first retry)."""
        return min(self.max_wait, self.initial_wait * self.multiplier**retry_index)


def retry_after_of(exc: BaseException) -> float | None:
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, int | float) else None


@dataclass
class Retrier:
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Clock = field(default_factory=RealClock)
    rng: random.Random = field(default_factory=random.Random)
    on_retry: Callable[[BaseException, float], None] | None = None
    """Called before each wait with the error and the wait (for counters and logs)."""

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        retry_if: Callable[[BatcherError], bool] | None = None,
    ) -> T:
        started = self.clock.now()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await fn()
            except BatcherError as exc:
                ok = exc.retryable if retry_if is None else retry_if(exc)
                paced = isinstance(exc, RateLimitedError)
                if paced:
                    attempt -= 1  # a 429 is not a failed attempt
                if not ok or attempt >= self.policy.attempts:
                    raise
                wait = 0.0 if paced else self.policy.backoff(attempt - 1, self.rng)
                floor = retry_after_of(exc)
                if floor is not None:
                    wait = max(wait, floor)
                if self.clock.now() + wait - started > self.policy.budget_seconds:
                    raise
                if self.on_retry is not None:
                    self.on_retry(exc, wait)
                await self.clock.sleep(wait)
