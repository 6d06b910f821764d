"""Per-key token buckets for the six API buckets, plus bookkeeping of clients that come back
before the ``Retry-After`` they were given (the thing a well-behaved client must never do).

The limits start from the (frozen) config and live here, so a test or benchmark can change a
bucket's limit while the sandbox runs (``Sandbox.set_rate_limit``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from batcher.sandbox.config import BucketName, RateLimit, SandboxConfig
from batcher.sandbox.errors import ApiError
from batcher.sandbox.state import RateLimitViolation, SandboxState


@dataclass
class _Bucket:
    tokens: float
    updated_at: float
    blocked_until: float = 0.0  # when the last Retry-After we sent runs out
    limited_at: float = 0.0  # when we last answered 429


class RateLimiter:
    def __init__(
        self, config: SandboxConfig, state: SandboxState, clock: Callable[[], float]
    ) -> None:
        self._config = config
        self._state = state
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._limits: dict[BucketName, RateLimit] = dict(config.rate_limits)

    def limit(self, bucket: BucketName) -> RateLimit | None:
        return self._limits.get(bucket)

    def set_limit(self, bucket: BucketName, limit: RateLimit | None) -> None:
        """Replace a bucket's limit from now on (None: unlimited). Saved tokens are capped at
        the new burst on the next request; a Retry-After already sent still stands."""
        if limit is None or limit.rate is None:
            self._limits.pop(bucket, None)
        else:
            self._limits[bucket] = limit

    def check(self, key_id: str, bucket: BucketName, endpoint: str) -> None:
        """Take one token or raise the 429; record a violation if the client came back early."""
        now = self._clock()
        limit = self._limits.get(bucket)
        state = self._buckets.get((key_id, bucket))
        grace = self._config.rate_limit_grace_seconds
        if state is not None and state.limited_at + grace <= now < state.blocked_until:
            self._state.rate_limit_violations.append(
                RateLimitViolation(bucket, endpoint, now, state.blocked_until - now)
            )
        if limit is None or limit.rate is None:
            return
        if state is None:
            state = self._buckets[(key_id, bucket)] = _Bucket(float(limit.burst), now)
        state.tokens = min(float(limit.burst), state.tokens + (now - state.updated_at) * limit.rate)
        state.updated_at = now
        if state.tokens >= 1.0:
            state.tokens -= 1.0
            return
        retry_after = (
            limit.retry_after_seconds
            if limit.retry_after_seconds is not None
            else self._config.retry_after_seconds
        )
        if now >= state.blocked_until:
            # Only the first 429 of an episode opens the grace window; a client that keeps
            # hammering must not be able to extend it.
            state.limited_at = now
        state.blocked_until = max(state.blocked_until, now + retry_after)
        self._state.rate_limited[bucket] += 1
        raise ApiError(
            429,
            "",
            body={"error": f"Rate limit exceeded: too many {bucket} requests"},
            headers={"Retry-After": str(retry_after)},
        )
