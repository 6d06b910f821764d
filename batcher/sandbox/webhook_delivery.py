"""Webhook delivery: notice asset ends, build Standard Webhooks events, POST them signed.

Asset status is computed from timestamps (``processing.py``), so nothing "happens" when an
asset ends. The dispatcher keeps a heap of attempt end times, checks it every few tens of
milliseconds against the sandbox clock, and turns each end into one event per matching,
enabled subscription. Deliveries run as tasks in the dispatcher's own task group, which lives
inside ``running_sandbox`` (cancelled on exit: events not yet delivered are dropped, as an
outage of the real service would drop them).

Signing uses the ``standardwebhooks`` library. Its verifier checks ``webhook-timestamp``
against the real clock (5 minutes' tolerance), so the header carries the real send time even
when the sandbox runs on a stepped test clock; the envelope's ``timestamp`` is the event time
on the sandbox clock.
"""

from __future__ import annotations

import heapq
import json
import random
import ssl
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import anyio
import anyio.abc
from standardwebhooks.webhooks import Webhook

from batcher.sandbox.config import SandboxConfig
from batcher.sandbox.processing import asset_view, can_retry_now
from batcher.sandbox.sas import iso_z
from batcher.sandbox.state import (
    AssetRecord,
    DeliveryAttempt,
    SandboxState,
    SubmissionRecord,
    Subscription,
    WebhookEvent,
)

COMPLETED = "asset.processing.completed"
FAILED = "asset.processing.failed"
DEFAULT_FIRED_ERROR = "Sandbox simulated failure"
_POLL_SECONDS = 0.02
_MAX_CONCURRENT_DELIVERIES = 32


@dataclass(order=True, frozen=True)
class _Due:
    ends_at: float
    seq: int  # ties keep scheduling order
    submission_id: str
    asset_id: str
    attempt_index: int


def event_data(
    sub: SubmissionRecord, asset: AssetRecord, status: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """The snake_case ``data`` of an event (no results: receivers fetch E6/E7)."""
    attempt = asset.attempts[-1]
    return {
        "submission_id": sub.submission_id,
        "asset_id": asset.asset_id,
        "workspace_id": sub.workspace_id,
        "status": status,
        "filename": asset.filename,
        "version_group_id": asset.version_group_id,
        "version_number": asset.version_number,
        "workflow_id": attempt.workflow_id,
        "retry_count": asset.retry_count,
        **extra,
    }


class WebhookDispatcher:
    def __init__(
        self,
        config: SandboxConfig,
        state: SandboxState,
        clock: Callable[[], float],
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self._config = config
        self._state = state
        self._clock = clock
        self._ssl = ssl_context
        self._rng = random.Random(f"{config.seed}:webhooks")
        self._due: list[_Due] = []
        self._seq = 0
        self._ready: deque[tuple[WebhookEvent, Subscription]] = deque()
        self._wake = anyio.Event()
        self._limiter = anyio.CapacityLimiter(_MAX_CONCURRENT_DELIVERIES)
        self.on_dispatched: Callable[[str, int], None] = lambda asset_id, attempt: None
        """Called once an attempt's end has been turned into events (the journal notes it)."""

    # --- what the routes call ------------------------------------------------------------
    def schedule(self, sub: SubmissionRecord, asset: AssetRecord) -> None:
        """Deliver the end of ``asset``'s latest attempt when it comes."""
        index = len(asset.attempts) - 1
        self._seq += 1
        due = _Due(
            asset.attempts[index].ends_at, self._seq, sub.submission_id, asset.asset_id, index
        )
        heapq.heappush(self._due, due)

    def fire(self, sub: SubmissionRecord, event_type: str, error_message: str | None) -> int:
        """E12: one event per asset to every matching subscription; the number of
        notifications queued (lost ones count: the service cannot know they will be lost)."""
        dispatched = 0
        for asset in sub.assets:
            if event_type == FAILED:
                status = "failed"
                extra = {"error_message": error_message or DEFAULT_FIRED_ERROR}
            else:
                status, extra = "complete", {}
            data = event_data(sub, asset, status, extra)
            dispatched += self._emit(sub, asset, event_type, data, self._clock(), fired=True)
        return dispatched

    # --- the loop ------------------------------------------------------------------------
    async def run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else True)
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            anyio.create_task_group() as tg,
        ):
            task_status.started()
            while True:
                self._collect_due()
                while self._ready:
                    event, subscription = self._ready.popleft()
                    tg.start_soon(self._deliver, session, event, subscription)
                with anyio.move_on_after(_POLL_SECONDS):
                    await self._wake.wait()
                self._wake = anyio.Event()

    def _collect_due(self) -> None:
        now = self._clock()
        while self._due and self._due[0].ends_at <= now:
            due = heapq.heappop(self._due)
            sub = self._state.submissions.get(due.submission_id)
            asset = sub.asset(due.asset_id) if sub else None
            if sub is None or asset is None or len(asset.attempts) != due.attempt_index + 1:
                continue
            view = asset_view(asset, now)
            if view.status == "failed":
                event_type = FAILED
                extra = {
                    "error_message": view.error_message,
                    "error_type": view.error_type,
                    "is_retryable": can_retry_now(asset, view, self._config.max_customer_retries),
                }
            else:
                event_type, extra = COMPLETED, {}
            data = event_data(sub, asset, view.status, extra)
            self._emit(sub, asset, event_type, data, due.ends_at, fired=False)
            self.on_dispatched(asset.asset_id, due.attempt_index)

    def _emit(
        self,
        sub: SubmissionRecord,
        asset: AssetRecord,
        event_type: str,
        data: dict[str, Any],
        at: float,
        *,
        fired: bool,
    ) -> int:
        targets = [
            s
            for s in self._state.webhook_subscriptions.values()
            if s.workspace_id == sub.workspace_id and s.wants(event_type)
        ]
        if not targets:
            return 0
        event_id = f"evt_{uuid.uuid4().hex}"
        payload = {"id": event_id, "type": event_type, "timestamp": iso_z(at), "data": data}
        event = WebhookEvent(
            event_id,
            event_type,
            sub.submission_id,
            asset.asset_id,
            payload,
            [s.id for s in targets],
            fired,
        )
        self._state.webhook_events.append(event)
        loss, duplicate = self._config.webhook_loss, self._config.webhook_duplicate
        for subscription in targets:
            roll = self._rng.random()  # one draw per delivery keeps seeded runs reproducible
            if roll < loss:
                self._state.webhook_lost += 1
                continue
            self._ready.append((event, subscription))
            if roll < loss + duplicate:
                self._state.webhook_duplicated += 1
                self._ready.append((event, subscription))
        self._wake.set()
        return len(targets)

    async def _deliver(
        self, session: aiohttp.ClientSession, event: WebhookEvent, subscription: Subscription
    ) -> None:
        body = json.dumps(event.payload, separators=(",", ":"))
        signer = Webhook(subscription.secret)
        backoff = self._config.webhook_retry_backoff_seconds
        async with self._limiter:
            for attempt in range(self._config.webhook_max_attempts):
                if attempt:
                    await anyio.sleep(backoff * 2 ** (attempt - 1))
                if not subscription.enabled:
                    return  # paused or deleted while we waited
                sent_at = time.time()
                headers = {
                    "content-type": "application/json",
                    "webhook-id": event.id,
                    "webhook-timestamp": str(int(sent_at)),
                    "webhook-signature": signer.sign(
                        event.id, datetime.fromtimestamp(sent_at, UTC), body
                    ),
                }
                status, error = await self._post(session, subscription.endpoint_url, body, headers)
                ok = status is not None and 200 <= status < 300
                self._state.webhook_attempts.append(
                    DeliveryAttempt(
                        id=str(uuid.uuid4()),
                        subscription_id=subscription.id,
                        event_id=event.id,
                        status="succeeded" if ok else "failed",
                        response_status=status,
                        created_at=self._clock(),
                        error=error,
                    )
                )
                if ok:
                    self._state.webhook_delivered[event.id] += 1
                    return
        self._state.webhook_given_up += 1

    async def _post(
        self, session: aiohttp.ClientSession, url: str, body: str, headers: dict[str, str]
    ) -> tuple[int | None, str | None]:
        timeout = aiohttp.ClientTimeout(total=self._config.webhook_timeout_seconds)
        try:
            async with session.post(url, data=body.encode(), headers=headers, timeout=timeout) as r:
                await r.read()
                return r.status, None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # The class name only: an exception text may carry the URL, which may hold a token.
            return None, type(exc).__name__
