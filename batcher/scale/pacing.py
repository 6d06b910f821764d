"""Per-bucket gate state shared by the shards of one run: the Retry-After window and, when a
rate is known, a token bucket. Pure and clock-driven: the Ray actor holds one ``GateBook``
(``ray_actor``); a shard that lost the actor keeps its own at 1/N of the rate (``gates``).

A caller asks ``acquire`` before each request: 0 means send now (a token was taken), a
positive number means ask again after that many seconds (nothing was taken). Asking again,
rather than holding a reservation, is what keeps a request from going out inside a
Retry-After window that opened while it waited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from batcher.logs import event
from batcher.ratelimit import BUCKETS, DEFAULT_RETRY_AFTER, Bucket


@dataclass
class BucketState:
    closed_until: float = 0.0
    rate: float | None = None
    """Requests per second allowed (None: not known, so not paced; only 429s close)."""
    burst: int = 1
    tokens: float = 1.0
    updated: float = 0.0
    closings: int = 0

    def acquire(self, now: float) -> float:
        if now < self.closed_until:
            return self.closed_until - now
        if self.rate is None:
            return 0.0
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def close_for(self, now: float, seconds: float | None) -> None:
        wait = DEFAULT_RETRY_AFTER if seconds is None else seconds
        self.closed_until = max(self.closed_until, now + wait)
        self.closings += 1

    def set_rate(self, now: float, rate: float | None, burst: int = 1) -> None:
        self.rate, self.burst = rate, max(1, burst)
        self.tokens, self.updated = min(self.tokens, float(self.burst)), now


@dataclass
class GateBook:
    """Every bucket's state. ``share`` scales configured rates (1/N for a lone shard)."""

    share: float = 1.0
    buckets: dict[Bucket, BucketState] = field(
        default_factory=lambda: {b: BucketState() for b in BUCKETS}
    )

    def acquire(self, bucket: Bucket, now: float) -> float:
        return self.buckets[bucket].acquire(now)

    def close_for(self, bucket: Bucket, now: float, seconds: float | None) -> None:
        state = self.buckets[bucket]
        state.close_for(now, seconds)
        event(logging.WARNING, "throttled", bucket=bucket, retryAfter=state.closed_until - now)

    def set_rate(self, bucket: Bucket, now: float, rate: float | None, burst: int = 1) -> None:
        scaled = None if rate is None else rate * self.share
        self.buckets[bucket].set_rate(now, scaled, max(1, int(burst * self.share)))

    def rate(self, bucket: Bucket) -> tuple[float | None, int]:
        state = self.buckets[bucket]
        return state.rate, state.burst

    def closings(self) -> dict[str, int]:
        return {b: s.closings for b, s in self.buckets.items()}
