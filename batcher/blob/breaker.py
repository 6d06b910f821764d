"""The blob storage's circuit breakers as a ``BlobTransport`` wrapper, one per storage host
(see ``batcher.breaker``). SAS URLs name their host, so a run that meets two storage
accounts keeps one breaker for each. 503 answers are Azure's normal throttling
(ServerBusy), handled by the retrier, so only 502/504 (gateways) count as an outage."""

from __future__ import annotations

from collections.abc import Mapping

import yarl

from batcher.blob.transport import BlobResponse, BlobTransport
from batcher.breaker import Breakers

GATEWAY_DOWN = frozenset({502, 504})


def _gateway_down(response: BlobResponse) -> bool:
    return response.status in GATEWAY_DOWN


class BreakerBlobTransport:
    def __init__(self, inner: BlobTransport, breakers: Breakers, *, label: str = "blob") -> None:
        self._inner = inner
        self._breakers = breakers
        self._label = label

    async def request(
        self,
        method: str,
        url: yarl.URL,
        *,
        op: str,
        headers: Mapping[str, str],
        body: bytes | memoryview | None,
        time_limit: float,
    ) -> BlobResponse:
        # Keyed by host and port, never the path or query: those carry the SAS.
        breaker = self._breakers.for_host(f"{self._label} storage {url.host}:{url.port}")
        return await breaker.call(
            lambda: self._inner.request(
                method, url, op=op, headers=headers, body=body, time_limit=time_limit
            ),
            failed=_gateway_down,
        )
