"""The run's shared rate-limit gates as one Ray actor, and the shard side's handle on it.

An actor's methods run one at a time, so the ``GateBook`` inside needs no locking. Its clock
is its own monotonic clock and it answers in relative seconds, so the nodes' wall clocks
need not agree.
"""

from __future__ import annotations

import time
from typing import Any

import ray
from ray.exceptions import RayActorError

from batcher.ratelimit import Bucket
from batcher.scale.gates import GateServiceLost
from batcher.scale.pacing import GateBook


class GateActor:
    def __init__(self) -> None:
        self.book = GateBook()

    def acquire(self, bucket: Bucket) -> tuple[float, float | None, int]:
        wait = self.book.acquire(bucket, time.monotonic())
        rate, burst = self.book.rate(bucket)
        return wait, rate, burst

    def close_for(self, bucket: Bucket, seconds: float | None) -> None:
        self.book.close_for(bucket, time.monotonic(), seconds)

    def set_rate(self, bucket: Bucket, rate: float | None, burst: int = 1) -> None:
        """For pacing: the bucket's rate as learned or configured, for all shards at once."""
        self.book.set_rate(bucket, time.monotonic(), rate, burst)

    def closings(self) -> dict[str, int]:
        return self.book.closings()


def start_gate_actor() -> Any:
    """A new actor owned by the driver (it ends with the run); not restarted if it dies:
    the shards then go on alone (``SharedGates``)."""
    # num_cpus=0: it waits on calls, and must not take a slot a shard could use.
    return ray.remote(num_cpus=0, max_restarts=0)(GateActor).remote()


class RayGateService:
    """``GateService`` over an actor handle; a dead or unreachable actor is ``GateServiceLost``."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    async def acquire(self, bucket: Bucket) -> tuple[float, float | None, int]:
        try:
            wait, rate, burst = await self._handle.acquire.remote(bucket)
        except RayActorError as exc:  # ActorDiedError, ActorUnavailableError
            raise GateServiceLost(str(exc)) from exc
        return float(wait), rate, int(burst)

    def close_for(self, bucket: Bucket, seconds: float | None) -> None:
        try:
            self._handle.close_for.remote(bucket, seconds)
        except RayActorError as exc:  # ActorDiedError, ActorUnavailableError
            raise GateServiceLost(str(exc)) from exc
