"""The API host's circuit breaker as an ``ApiTransport`` wrapper (see ``batcher.breaker``).

Besides connections that fail, a storm of 502/503/504 answers counts as an outage: those
are gateways saying the service behind them is not there. The answers themselves still go
to the client, whose retry rules for each endpoint stay in charge of them.
"""

from __future__ import annotations

from pydantic import SecretStr

from batcher.api.transport import ApiRequest, ApiResponse, ApiTransport
from batcher.breaker import Breaker

GATEWAY_DOWN = frozenset({502, 503, 504})


def _gateway_down(response: ApiResponse) -> bool:
    return response.status in GATEWAY_DOWN


class BreakerApiTransport:
    def __init__(self, inner: ApiTransport, breaker: Breaker) -> None:
        self._inner = inner
        self.breaker = breaker

    async def send(self, request: ApiRequest, *, key: SecretStr) -> ApiResponse:
        return await self.breaker.call(
            lambda: self._inner.send(request, key=key), failed=_gateway_down
        )
