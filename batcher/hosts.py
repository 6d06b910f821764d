"""How a run meets its two hosts (the API, the blob storage) beyond plain HTTP: a circuit
breaker on each (``breaker.py``), the link controller sizing blob requests in flight
(``blob/link.py``) and the ``--bwlimit`` cap (``blob/bandwidth.py``). Built once per run
by ``pipeline._context``."""

from __future__ import annotations

from dataclasses import dataclass

from yarl import URL

from batcher.api.breaker import BreakerApiTransport
from batcher.api.transport import ApiTransport
from batcher.blob.bandwidth import Bandwidth
from batcher.blob.breaker import BreakerBlobTransport
from batcher.blob.link import LinkController, LinkPolicy
from batcher.blob.transport import BlobTransport
from batcher.breaker import BreakerPolicy, Breakers
from batcher.clock import Clock
from batcher.config import Settings


@dataclass
class Hosts:
    breakers: Breakers
    bandwidth: Bandwidth | None
    link: LinkController | None

    @classmethod
    def for_run(cls, settings: Settings, clock: Clock) -> Hosts:
        breakers = Breakers(clock, BreakerPolicy(max_outage=settings.max_outage))
        bandwidth = Bandwidth(settings.bwlimit, clock) if settings.bwlimit else None
        return cls(breakers, bandwidth, _link(settings, clock))

    def api(self, transport: ApiTransport, base_url: str) -> ApiTransport:
        url = URL(base_url)
        # Armed by the first answer (the pre-run probe): an API that never answered is a
        # wrong --base-url, which must fail in seconds, not be waited for as an outage.
        breaker = self.breakers.for_host(f"MediaMagic API {url.host}:{url.port}", armed=False)
        return BreakerApiTransport(transport, breaker)

    def blob(self, transport: BlobTransport) -> BlobTransport:
        return BreakerBlobTransport(transport, self.breakers)


def _link(settings: Settings, clock: Clock) -> LinkController | None:
    """One controller for the run's blob requests in flight, capped where a fixed setting
    would put them (and where the memory budget would anyway)."""
    if not settings.adaptive_concurrency:
        return None
    fixed = settings.upload_workers * settings.block_concurrency
    ceiling = max(1, min(fixed, settings.memory_budget // settings.block_size))
    return LinkController(clock, LinkPolicy(ceiling=ceiling))
