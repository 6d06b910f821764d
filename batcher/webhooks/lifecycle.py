"""One subscription per run: sweep stale ones, create ours, delete it at the end.

A run that died without cleaning up (SIGKILL, power loss) leaves its subscription behind,
still pointed at our URL. Before making its own, a run lists the workspace's subscriptions
and deletes every one whose description says batcher made it and whose URL is ours: two
live runs cannot share one URL (only one can listen behind it), so such a subscription is
stale. The secret of the new one lives only in the receiver's verifier.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from anyio.abc import ObjectReceiveStream

from batcher.api.models import WebhookEventType
from batcher.api.protocol import MediaMagicApi
from batcher.context import RunContext
from batcher.errors import ApiError, BatcherError, UsageError
from batcher.logs import event
from batcher.webhooks.events import Wakeup
from batcher.webhooks.receiver import Receiver, serve

DESCRIPTION_PREFIX = "batcher run "
EVENT_TYPES: tuple[WebhookEventType, ...] = (
    "asset.processing.completed",
    "asset.processing.failed",
)
_INBOX = 10_000  # wakeups waiting for the pollers; beyond it, polling catches up


def description_for(run_id: str) -> str:
    return f"{DESCRIPTION_PREFIX}{run_id}"


async def remove_stale(client: MediaMagicApi, url: str) -> int:
    removed = 0
    for sub in await client.list_webhooks():
        ours = sub.endpoint_url == url and (sub.description or "").startswith(DESCRIPTION_PREFIX)
        if ours and await client.delete_webhook(sub.id):
            removed += 1
            event(logging.INFO, "stale webhook subscription deleted", subscription=sub.id)
    return removed


async def _delete(ctx: RunContext, subscription_id: str) -> None:
    """Runs on every way out, cancelled or not, within ``cleanup_timeout``."""
    assert ctx.settings.webhooks is not None
    with anyio.CancelScope(shield=True):
        async with ctx.clock.move_on_after(ctx.settings.webhooks.cleanup_timeout) as scope:
            try:
                await ctx.client.delete_webhook(subscription_id)
            except BatcherError as exc:
                event(
                    logging.WARNING,
                    "webhook subscription not deleted; the next run removes it",
                    subscription=subscription_id,
                    error=exc.code,
                )
                return
            event(logging.INFO, "webhook subscription deleted", subscription=subscription_id)
        if scope.cancelled_caught:
            event(
                logging.WARNING,
                "webhook subscription not deleted in time; the next run removes it",
                subscription=subscription_id,
            )


@dataclass(frozen=True)
class RunHooks:
    wakeups: ObjectReceiveStream[Wakeup]
    """Verified events, for the pollers."""
    receiver: Receiver
    subscription_id: str


@asynccontextmanager
async def run_hooks(ctx: RunContext) -> AsyncIterator[RunHooks | None]:
    """With webhooks on: the receiver listening and a subscription made for this run, for
    as long as the block runs, deleted on every way out. Off: None."""
    settings = ctx.settings.webhooks
    if settings is None:
        yield None
        return
    inbox, wakeups = anyio.create_memory_object_stream[Wakeup](_INBOX)
    receiver = Receiver(settings.path, inbox)
    async with anyio.create_task_group() as tg, inbox, wakeups:
        # Listen first: a port we cannot bind must fail before anything is registered.
        await tg.start(serve, receiver, settings)
        await remove_stale(ctx.client, settings.url)
        try:
            created = await ctx.client.create_webhook(
                settings.url, list(EVENT_TYPES), description_for(ctx.run_id)
            )
        except ApiError as exc:
            if exc.http_status == 422:  # a URL the service refuses, or the limit reached
                raise UsageError(f"webhook subscription refused: {exc.message}") from None
            raise
        try:
            receiver.arm(created.secret)
            event(logging.INFO, "webhook subscription created", subscription=created.id)
            yield RunHooks(wakeups, receiver, created.id)
        finally:
            await _delete(ctx, created.id)
            tg.cancel_scope.cancel()
