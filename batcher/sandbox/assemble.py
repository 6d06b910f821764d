"""Building one sandbox's ``AppContext``: where blobs live, the journal, the SAS key, the
webhook dispatcher, and (with ``state_dir``) everything a previous sandbox made durable."""

from __future__ import annotations

import secrets
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.to_thread

from batcher.sandbox.blobs import BlobStore
from batcher.sandbox.config import SandboxConfig
from batcher.sandbox.context import AppContext
from batcher.sandbox.faults import FaultInjector
from batcher.sandbox.journal import Journal
from batcher.sandbox.link import Link
from batcher.sandbox.persist import (
    read_records,
    referenced_files,
    remove_orphans,
    replay,
    sas_secret,
)
from batcher.sandbox.ratelimit import RateLimiter
from batcher.sandbox.state import SandboxState
from batcher.sandbox.webhook_delivery import WebhookDispatcher


def _storage(config: SandboxConfig) -> tuple[Path, tempfile.TemporaryDirectory[str] | None]:
    if config.state_dir is not None:
        return Path(config.state_dir) / "blobs", None
    if config.storage_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="mm-sandbox-")
        return Path(tmp.name), tmp
    return Path(config.storage_dir), None


def _webhook_ssl(config: SandboxConfig, given: ssl.SSLContext | None) -> ssl.SSLContext | None:
    if given is not None:
        return given
    if config.webhook_ca_file is not None:
        return ssl.create_default_context(cafile=str(config.webhook_ca_file))
    return None  # the system's trust store


async def _restore(ctx: AppContext, state_dir: Path) -> None:
    """Reload what a previous sandbox on ``state_dir`` made durable."""
    records = await anyio.to_thread.run_sync(read_records, state_dir)
    replayed = replay(records, ctx.state, ctx.store, ctx.store.root)
    await anyio.to_thread.run_sync(remove_orphans, ctx.store.root, referenced_files(ctx.store))
    for sub in ctx.state.submissions.values():
        for asset in sub.assets:
            if (asset.asset_id, len(asset.attempts) - 1) not in replayed.dispatched:
                ctx.webhooks.schedule(sub, asset)


async def build_context(
    config: SandboxConfig, clock: Callable[[], float], webhook_ssl: ssl.SSLContext | None
) -> tuple[AppContext, tempfile.TemporaryDirectory[str] | None]:
    root, tmp = _storage(config)
    await anyio.to_thread.run_sync(lambda: root.mkdir(parents=True, exist_ok=True))
    state = SandboxState()
    state_dir = config.state_dir
    journal = await Journal.open(Path(state_dir), root) if state_dir is not None else Journal()
    store = BlobStore(
        root,
        durable=journal.enabled,
        record_blob=journal.blob,
        record_block=journal.block,
    )
    if state_dir is not None:
        sas = await anyio.to_thread.run_sync(sas_secret, Path(state_dir))
    else:
        sas = secrets.token_bytes(32)
    webhooks = WebhookDispatcher(config, state, clock, _webhook_ssl(config, webhook_ssl))
    webhooks.on_dispatched = journal.dispatched
    ctx = AppContext(
        config=config,
        state=state,
        store=store,
        clock=clock,
        sas_secret=sas,
        faults=FaultInjector(config, state),
        limiter=RateLimiter(config, state, clock),
        link=Link(config.blob_bandwidth_bytes_per_s),
        journal=journal,
        webhooks=webhooks,
    )
    if state_dir is not None:
        await _restore(ctx, Path(state_dir))
    return ctx, tmp
