"""What one run is built from: the HTTP session, the two hosts' transports (real or fake)
with their circuit breakers, the rate-limit pacer, the API client, the blob uploader, and the
``RunContext`` that hands them to the stages. ``pipeline.run_batch`` opens one per run;
stage tests open one over ``FakeMediaMagic`` (``tests/unit/rig.py``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import aiohttp

from batcher.api.client import MediaMagicClient
from batcher.api.transport import AiohttpApiTransport, ApiTransport
from batcher.blob.budget import MemoryBudget
from batcher.blob.transport import AiohttpTransport, BlobTransport
from batcher.blob.uploader import BlobSettings, BlobUploader
from batcher.clock import Clock
from batcher.config import Settings
from batcher.context import RunContext
from batcher.hosts import Hosts
from batcher.logs import event
from batcher.pacing import Pacer
from batcher.pacing.memory import RateMemory, rate_scope
from batcher.retry import Retrier, RetryPolicy
from batcher.scale.gates import SharedGates
from batcher.state.journal import Journal


@dataclass(frozen=True)
class Transports:
    """The two outside worlds a run talks to; default: aiohttp over one shared session."""

    api: ApiTransport
    blob: BlobTransport


def blob_settings(settings: Settings) -> BlobSettings:
    return BlobSettings(
        block_size=settings.block_size,
        single_put_max=settings.block_size,
        block_concurrency=settings.block_concurrency,
    )


def pacing_figures(ctx: RunContext) -> dict[str, dict[str, object]]:
    """The learned rate of each bucket, for the summary and the log file."""
    if ctx.pacing is None:
        return {}
    figures: dict[str, dict[str, object]] = {}
    for bucket, st in ctx.pacing.statistics().items():
        rate = st.rate if st.cap is None or st.rate is not None else st.cap
        if st.rate is not None and st.cap is not None:
            rate = min(st.rate, st.cap)
        figures[bucket] = {
            "requests": st.requests,
            "throttles": st.throttles,
            "rate": None if rate is None else round(rate, 2),
            "cap": st.cap,
            "remembered": None if st.remembered is None else round(st.remembered, 2),
        }
        event(logging.INFO, "pacing", bucket=bucket, **figures[bucket])
    return figures


@asynccontextmanager
async def open_context(
    settings: Settings,
    clock: Clock,
    journal: Journal,
    manifest_dir: Path,
    transports: Transports | None = None,
    gates: SharedGates | None = None,
) -> AsyncIterator[RunContext]:
    assert settings.api_key is not None
    policy = RetryPolicy(
        attempts=settings.retry_attempts,
        budget_seconds=settings.retry_budget,
        initial_wait=settings.retry_initial_wait,
    )
    retrier = Retrier(policy=policy, clock=clock)
    budget = MemoryBudget(settings.memory_budget)
    # One pool for API and blob hosts, unlimited: the stages' worker counts and the memory
    # budget are the limits (aiohttp counts waiting for a pooled connection as timeout).
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    # No cookie jar: the API and blob hosts may share a host name (the sandbox does), and
    # nothing of the API's should reach the storage host.
    async with aiohttp.ClientSession(
        connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        api = transports.api if transports else AiohttpApiTransport(session, settings.base_url)
        pacer = Pacer(clock, max_wait=settings.max_throttle_wait, caps=dict(settings.max_rate))
        memory = RateMemory(
            journal.store, rate_scope(settings.base_url, settings.api_key.get_secret_value())
        )
        pacer.remember(memory.load())  # start where the last run over this report settled
        if gates is not None:
            gates.attach(pacer)  # shared windows, and this process's own learned pace
        # A breaker per host: an outage makes senders wait, not rows fail (breaker.py).
        hosts = Hosts.for_run(settings, clock)
        api = hosts.api(api, settings.base_url)
        client = MediaMagicClient(
            api,
            api_key=settings.api_key,
            gates=gates or pacer,
            retrier=retrier,
            timeout=settings.request_timeout,
            clock=clock,
            max_throttle_wait=settings.max_throttle_wait,
        )
        pace = hosts.bandwidth.take if hosts.bandwidth is not None else None
        blob = transports.blob if transports else AiohttpTransport(session, pace=pace)
        uploader = BlobUploader.from_transport(
            hosts.blob(blob),
            blob_settings(settings),
            budget,
            retrier,
            store=journal.blocks,
            clock=clock,
            link=hosts.link,
        )
        ctx = RunContext(
            settings, client, uploader, budget, clock, journal.run_id, manifest_dir, journal
        )
        ctx.pacing = pacer
        ctx.breakers = hosts.breakers
        ctx.bandwidth = hosts.bandwidth
        retrier.on_retry = partial(count_retry, ctx)
        try:
            yield ctx
        finally:
            memory.save(pacer.learned())


def count_retry(ctx: RunContext, exc: BaseException, wait: float) -> None:
    ctx.counters.retries += 1
    code = getattr(exc, "code", type(exc).__name__)
    event(logging.INFO, "retry", error=code, detail=str(exc), waitSeconds=round(wait, 3))
