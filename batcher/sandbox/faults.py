"""Seeded fault injection: 5xx answers, dropped connections and added latency.

Each endpoint draws from its own ``random.Random`` seeded with ``(seed, endpoint)``, so the
fault sequence an endpoint sees depends only on how many requests *it* got, not on how
requests to other endpoints interleaved: runs with the same seed are reproducible even when
the client is concurrent across endpoints.
"""

from __future__ import annotations

import random
from typing import Literal

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.web_request import BaseRequest

from batcher.sandbox.config import SandboxConfig
from batcher.sandbox.errors import ApiError, BlobError
from batcher.sandbox.state import SandboxState

FaultKind = Literal["error_500", "error_502", "error_503", "drop_before", "drop_after"]
_KINDS: tuple[FaultKind, ...] = (
    "error_500",
    "error_502",
    "error_503",
    "drop_before",
    "drop_after",
)


class FaultInjector:
    def __init__(self, config: SandboxConfig, state: SandboxState) -> None:
        self._config = config
        self._state = state
        self._rngs: dict[str, random.Random] = {}

    def latency(self, endpoint: str) -> float:
        spec = self._config.fault_for(endpoint)
        return spec.latency_seconds if spec else 0.0

    def draw(self, endpoint: str) -> FaultKind | None:
        """Decide this request's fault (or none). One draw per request keeps sequences stable."""
        spec = self._config.fault_for(endpoint)
        if spec is None:
            return None
        rng = self._rngs.get(endpoint)
        if rng is None:
            rng = self._rngs[endpoint] = random.Random(f"{self._config.seed}:{endpoint}")
        roll = rng.random()
        threshold = 0.0
        for kind in _KINDS:
            threshold += getattr(spec, kind)
            if roll < threshold:
                self._state.faults_injected += 1
                self._state.fault_counts[f"{endpoint}:{kind}"] += 1
                return kind
        return None


def api_error_for(kind: FaultKind) -> ApiError:
    messages = {
        "error_500": (500, "Internal server error"),
        "error_502": (502, "Bad gateway"),
        "error_503": (503, "Service unavailable"),
    }
    status, detail = messages[kind]
    return ApiError(status, detail)


def blob_error_for(kind: FaultKind) -> BlobError:
    if kind == "error_500":
        return BlobError(
            500,
            "OperationTimedOut",
            "The operation could not be completed within the permitted time.",
        )
    if kind == "error_503":
        return BlobError(
            503,
            "ServerBusy",
            "The server is currently unable to receive requests. Please retry your request.",
        )
    # Azure itself does not send 502, but a gateway in front of it can; keep the XML shape.
    return BlobError(
        502, "InternalError", "The server encountered an internal error. Please retry the request."
    )


class DroppedResponse(web.StreamResponse):
    """Returned after the transport was closed: its ``prepare`` raises ConnectionResetError,
    which aiohttp treats as a client that went away (no error log, no bytes written)."""

    async def prepare(self, request: BaseRequest) -> AbstractStreamWriter | None:
        raise ConnectionResetError("connection dropped by sandbox fault injection")


def drop_connection(request: web.Request) -> DroppedResponse:
    transport = request.transport
    if transport is not None:
        transport.close()
    return DroppedResponse()
