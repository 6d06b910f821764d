"""One gate per API rate-limit bucket.

A 429 closes only its own bucket until ``Retry-After`` has passed; every request of that
bucket waits at the gate first, so none is sent into a throttled bucket early. Other buckets
keep flowing (polling goes on while uploads are throttled).

The client sees only ``RequestGates``: ``RateGates`` is the one-process implementation; a
sharded run shares one set of gates between processes (``batcher.scale.gates``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal, Protocol

from batcher.clock import Clock, RealClock
from batcher.logs import event

Bucket = Literal["upload", "submission_write", "submission_read", "webhook_write", "webhook_read"]
BUCKETS: tuple[Bucket, ...] = (
    "upload",
    "submission_write",
    "submission_read",
    "webhook_write",
    "webhook_read",
)

# Without a Retry-After header (the docs say it is always sent) wait this long.
DEFAULT_RETRY_AFTER = 5.0


class RequestGates(Protocol):
    """What the API client asks of rate limiting, per bucket."""

    async def acquire(self, bucket: Bucket) -> None:
        """Wait until a request of ``bucket`` may be sent; called before each request."""

    def throttled(self, bucket: Bucket, retry_after: float | None) -> None:
        """A 429 of ``bucket`` said to wait ``retry_after`` seconds (None: not said)."""


@dataclass
class Gate:
    clock: Clock
    closed_until: float = 0.0
    closings: int = 0

    def close_for(self, seconds: float | None) -> None:
        wait = DEFAULT_RETRY_AFTER if seconds is None else seconds
        self.closed_until = max(self.closed_until, self.clock.now() + wait)
        self.closings += 1
        event(logging.WARNING, "throttled", retryAfter=wait)

    async def wait_open(self) -> None:
        # Re-check after each sleep: another 429 may have pushed the reopening further out.
        while (remaining := self.closed_until - self.clock.now()) > 0:
            await self.clock.sleep(remaining)


@dataclass
class RateGates:
    clock: Clock = field(default_factory=RealClock)
    gates: dict[Bucket, Gate] = field(init=False)

    def __post_init__(self) -> None:
        self.gates = {bucket: Gate(self.clock) for bucket in BUCKETS}

    def __getitem__(self, bucket: Bucket) -> Gate:
        return self.gates[bucket]

    async def acquire(self, bucket: Bucket) -> None:
        await self.gates[bucket].wait_open()

    def throttled(self, bucket: Bucket, retry_after: float | None) -> None:
        self.gates[bucket].close_for(retry_after)

    def statistics(self) -> dict[str, int]:
        return {bucket: gate.closings for bucket, gate in self.gates.items()}
