"""The per-sandbox objects every handler needs, stored on the aiohttp app under a typed key
(no module-level state: two sandboxes in one process never share anything)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from batcher.sandbox.blobs import BlobStore
from batcher.sandbox.config import SandboxConfig
from batcher.sandbox.faults import FaultInjector
from batcher.sandbox.journal import Journal
from batcher.sandbox.link import Link
from batcher.sandbox.ratelimit import RateLimiter
from batcher.sandbox.state import SandboxState
from batcher.sandbox.webhook_delivery import WebhookDispatcher


@dataclass
class AppContext:
    config: SandboxConfig
    state: SandboxState
    store: BlobStore
    clock: Callable[[], float]  # wall-clock seconds since the epoch; injectable for tests
    sas_secret: bytes
    faults: FaultInjector
    limiter: RateLimiter
    link: Link  # paces upload bodies (blob_bandwidth_bytes_per_s)
    journal: Journal  # durable state (a no-op without state_dir)
    webhooks: WebhookDispatcher
    base_url: str = ""  # set once the socket is bound (the port may be chosen by the OS)


CONTEXT = web.AppKey("batcher.sandbox.context", AppContext)


def context(request: web.Request) -> AppContext:
    return request.app[CONTEXT]
