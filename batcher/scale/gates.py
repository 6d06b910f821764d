"""Rate-limit gates shared by the shards of one run (all use one API key, so one bucket).

``SharedGates`` is the client's ``RequestGate`` for a shard: it asks a ``GateService`` (the
run's Ray actor) before each request and tells it of each 429, so no shard sends inside
another's Retry-After. Within those windows the shard paces itself with its own ``Pacer``
(``attach``): each shard learns from the 429s it meets, and senders that each back off on
their own 429s settle on a share of the limit (TCP's argument). If the service is lost (its
process died, or it stops answering), the shard goes on alone with its own ``GateBook`` at
1/N of the rates it last heard, which already holds every 429 this shard met; it does not go
back to the service, whose restart would have forgotten the windows.
"""

from __future__ import annotations

import logging
from typing import Protocol

import anyio

from batcher.clock import Clock
from batcher.logs import event
from batcher.pacing.bucket import BucketStats
from batcher.pacing.pacer import Pacer
from batcher.ratelimit import Bucket
from batcher.scale.pacing import GateBook

ASK_TIMEOUT = 5.0


class GateServiceLost(Exception):
    """The shared gates cannot be reached any more."""


class GateService(Protocol):
    async def acquire(self, bucket: Bucket) -> tuple[float, float | None, int]:
        """(seconds to wait, 0 = send now; the bucket's rate and burst as the service has them)"""

    def close_for(self, bucket: Bucket, seconds: float | None) -> None:
        """Tell the service of a 429 (no answer awaited: the caller is mid-request)."""


class SharedGates:
    def __init__(
        self,
        service: GateService | None,
        clock: Clock,
        shards: int,
        *,
        timeout: float = ASK_TIMEOUT,
    ) -> None:
        self._service = service
        self._clock = clock
        self._timeout = timeout
        self.shards = shards
        self.local = GateBook(share=1.0 / shards)
        """This shard's own gates: every 429 it met, and the rates it heard, at its share."""
        self.fell_back = service is None
        self._pacer: Pacer | None = None

    def attach(self, pacer: Pacer) -> None:
        """Pace through ``pacer`` too (the run's own learned rates and caps)."""
        self._pacer = pacer

    async def acquire(self, bucket: Bucket) -> None:
        # The local pace first, the shared window last: a 429 another shard met while this
        # one waited for its pace must still hold this request back.
        if self._pacer is not None:
            await self._pacer.acquire(bucket)
        await self._shared_window(bucket)

    async def _shared_window(self, bucket: Bucket) -> None:
        while self._service is not None:
            try:
                with anyio.fail_after(self._timeout):
                    wait, rate, burst = await self._service.acquire(bucket)
            except (GateServiceLost, TimeoutError) as exc:
                self._lose(exc)
                break
            if self.local.rate(bucket) != _scaled(rate, burst, self.local.share):
                self.local.set_rate(bucket, self._clock.now(), rate, burst)
            if wait <= 0:
                return
            await self._clock.sleep(wait)
        while (wait := self.local.acquire(bucket, self._clock.now())) > 0:
            await self._clock.sleep(wait)

    def on_success(self, bucket: Bucket) -> None:
        if self._pacer is not None:
            self._pacer.on_success(bucket)

    def statistics(self) -> dict[str, BucketStats]:
        return {} if self._pacer is None else self._pacer.statistics()

    def on_throttled(self, bucket: Bucket, retry_after: float | None) -> None:
        if self._pacer is not None:
            self._pacer.on_throttled(bucket, retry_after)
        self.local.close_for(bucket, self._clock.now(), retry_after)
        if self._service is not None:
            try:
                self._service.close_for(bucket, retry_after)
            except GateServiceLost as exc:
                self._lose(exc)

    def _lose(self, exc: BaseException) -> None:
        event(
            logging.WARNING,
            "shared rate-limit gates lost; this shard goes on alone at its share of the rate",
            error=type(exc).__name__,
            share=round(self.local.share, 4),
        )
        self._service = None
        self.fell_back = True


def _scaled(rate: float | None, burst: int, share: float) -> tuple[float | None, int]:
    return (None if rate is None else rate * share), max(1, int(burst * share))
