"""run_batch(): the stage graph. The only module that knows how stages connect.

    read+preflight ─► upload ×U ─► batch+submit ─► poll ×P ─┐
          │               │              │                  ├─► report writer (one task)
          └───────────────┴──────────────┴──────────────────┘

Stages are joined by bounded memory object streams; each worker gets its own clone of a
stream end and the originals are closed, so each stage ends exactly when the one before it
is done, and the report writer ends when every sender is closed.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import aiohttp
import anyio

from batcher.api.client import MediaMagicClient
from batcher.api.transport import AiohttpApiTransport, ApiTransport
from batcher.blob.budget import MemoryBudget
from batcher.blob.transport import AiohttpTransport, BlobTransport
from batcher.blob.uploader import BlobSettings, BlobUploader
from batcher.clock import Clock, RealClock
from batcher.config import Settings
from batcher.context import RunContext
from batcher.errors import (
    BatcherError,
    FatalApiError,
    Interrupted,
    ReportWriteError,
    ServiceUnreachable,
    UsageError,
)
from batcher.hosts import Hosts
from batcher.logs import event
from batcher.outcome import ErrorInfo, ReportLine, RowJob, Ticket
from batcher.progress.loop import Totals, prescan, progress_loop, snapshot
from batcher.progress.model import ProgressView
from batcher.ratelimit import RateGates
from batcher.retry import Retrier, RetryPolicy
from batcher.rows.manifest import ManifestRow, read_manifest
from batcher.shutdown import Shutdown
from batcher.stages.poll import poll_stage
from batcher.stages.read import read_stage
from batcher.stages.report import ReportWriter, report_stage
from batcher.stages.submit import batch_stage
from batcher.stages.upload import upload_worker
from batcher.state.journal import Journal
from batcher.summary import RunSummary


def default_report_path(manifest: Path) -> Path:
    return Path.cwd() / f"{manifest.stem}.report.jsonl"


def journal_path_for(report: Path) -> Path:
    return report.with_name(report.name + ".journal.sqlite")


def _first_fatal(exc: BaseException) -> BatcherError | None:
    if isinstance(exc, FatalApiError | UsageError | ServiceUnreachable):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _first_fatal(inner)
            if found is not None:
                return found
    return None


@dataclass(frozen=True)
class Transports:
    """The two outside worlds a run talks to; default: aiohttp over one shared session."""

    api: ApiTransport
    blob: BlobTransport


@dataclass
class Watch:
    """What runs beside the stages: signal handling and a progress view."""

    shutdown: Shutdown
    handle_signals: bool
    view: ProgressView | None
    manifest: Path


async def _run_watched(
    ctx: RunContext, rows: Iterator[ManifestRow], writer: ReportWriter, watch: Watch
) -> None:
    totals = Totals()
    stop_prescan = threading.Event()
    started = ctx.clock.now()
    try:
        async with anyio.create_task_group() as outer:
            with anyio.CancelScope() as stages:
                outer.start_soon(watch.shutdown.enforce_grace, stages)
                if watch.handle_signals:
                    outer.start_soon(watch.shutdown.watch, stages)
                if watch.view is not None:
                    writer.on_line = watch.view.row_finished
                    outer.start_soon(
                        partial(anyio.to_thread.run_sync, abandon_on_cancel=True),
                        prescan,
                        watch.manifest,
                        ctx.manifest_dir,
                        totals,
                        stop_prescan,
                    )
                    outer.start_soon(progress_loop, ctx, writer.tally, watch.view, totals, started)
                await _run_stages(ctx, rows, writer)
            outer.cancel_scope.cancel()
    finally:
        stop_prescan.set()
        if watch.view is not None:
            final = snapshot(ctx, writer.tally, totals, None, started)
            watch.view.close(final)


def _rows(manifest: Path, only: frozenset[int] | None) -> Iterator[ManifestRow]:
    rows = read_manifest(manifest)
    return rows if only is None else (row for row in rows if row.row in only)


def _report_unfinished(
    writer: ReportWriter,
    rows: Iterator[ManifestRow],
    code: str,
    message: str,
    *,
    retryable: bool = False,
) -> None:
    """After an abort or interruption every row still gets its line; these lines are
    provisional (not journaled), so the next run resumes the rows behind them."""
    info = ErrorInfo(stage="run", code=code, message=message, retryable=retryable)
    for row in rows:
        if row.row not in writer.tally.reported_rows:
            writer.write(
                ReportLine(
                    row=row.row, path=row.path_text, status="error", error=info, columns=row.columns
                )
            )


def _blob_settings(settings: Settings) -> BlobSettings:
    return BlobSettings(
        block_size=settings.block_size,
        single_put_max=settings.block_size,
        block_concurrency=settings.block_concurrency,
    )


async def run_batch(
    manifest: Path,
    settings: Settings,
    *,
    clock: Clock | None = None,
    handle_signals: bool = False,
    view: ProgressView | None = None,
    only_rows: frozenset[int] | None = None,
    transports: Transports | None = None,
) -> RunSummary:
    """Upload, submit, track and report every row of ``manifest``; resume from the journal.

    With ``handle_signals`` (the CLI), SIGINT/SIGTERM stop the run gracefully and it raises
    ``Interrupted`` once every row has a line (unfinished ones say how to resume). A ``view``
    is shown live progress and each finished row. ``only_rows`` limits the run to those
    manifest rows (``batcher retry``); the others are neither read further nor reported.
    ``transports`` replaces the HTTP seams (tests: ``FakeMediaMagic`` and its blob service).
    """
    clock = clock or RealClock()
    if settings.api_key is None:
        raise UsageError("no API key: set MEDIAMAGIC_API_KEY or use --api-key-file")
    rows = _rows(manifest, only_rows)
    report_path = settings.report_path or default_report_path(manifest)
    # The report first: an unwritable report path is the likelier mistake and names itself.
    writer = ReportWriter(report_path)
    try:
        journal = Journal(
            settings.journal_path or journal_path_for(report_path),
            fresh=settings.fresh,
            now=clock.now,
        )
    except BaseException:
        writer.close()
        raise
    writer.journal = journal
    journal.record_manifest(_absolute(manifest))
    try:
        for _row, text in journal.rows.finished_lines():
            writer.replay(text)
        started = clock.now()
        async with _context(settings, clock, journal, _manifest_dir(manifest), transports) as ctx:
            shutdown = Shutdown(settings.shutdown_grace, clock)
            ctx.stopping = shutdown.requested
            try:
                watch = Watch(shutdown, handle_signals, view, manifest)
                await _run_watched(ctx, rows, writer, watch)
            except BaseException as exc:
                fatal = _first_fatal(exc)
                if fatal is None:
                    raise
                if isinstance(fatal, ServiceUnreachable):  # a clean stop: resumable
                    unfinished = _rows(manifest, only_rows)
                    _report_unfinished(
                        writer, unfinished, fatal.code, fatal.message, retryable=True
                    )
                elif not isinstance(fatal, ReportWriteError):  # else nowhere to write
                    message = f"run aborted: {fatal.message}"
                    _report_unfinished(writer, _rows(manifest, only_rows), "aborted", message)
                raise fatal from None
            if shutdown.requested.is_set():
                unfinished = _rows(manifest, only_rows)
                _report_unfinished(writer, unfinished, "interrupted", shutdown.reason)
                raise Interrupted(shutdown.reason)
            if writer.tally.provisional == 0:
                journal.mark_completed()
    finally:
        writer.close()
        journal.close()
    return RunSummary.build(
        writer.tally,
        report_path=report_path,
        wall_seconds=clock.now() - started,
        counters=ctx.counters,
        throttled=dict(ctx.client.throttled),
    )


@asynccontextmanager
async def _context(
    settings: Settings,
    clock: Clock,
    journal: Journal,
    manifest_dir: Path,
    transports: Transports | None = None,
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
        # A breaker per host: an outage makes senders wait, not rows fail (breaker.py).
        hosts = Hosts.for_run(settings, clock)
        api = hosts.api(api, settings.base_url)
        client = MediaMagicClient(
            api,
            api_key=settings.api_key,
            gates=RateGates(clock),
            retrier=retrier,
            timeout=settings.request_timeout,
        )
        pace = hosts.bandwidth.take if hosts.bandwidth is not None else None
        blob = transports.blob if transports else AiohttpTransport(session, pace=pace)
        uploader = BlobUploader.from_transport(
            hosts.blob(blob),
            _blob_settings(settings),
            budget,
            retrier,
            store=journal.blocks,
            clock=clock,
            link=hosts.link,
        )
        ctx = RunContext(
            settings, client, uploader, budget, clock, journal.run_id, manifest_dir, journal
        )
        ctx.breakers = hosts.breakers
        ctx.bandwidth = hosts.bandwidth
        retrier.on_retry = partial(_count_retry, ctx)
        yield ctx


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def _manifest_dir(manifest: Path) -> Path:
    """Relative paths in the manifest resolve against its folder."""
    return _absolute(manifest).parent


def _count_retry(ctx: RunContext, exc: BaseException, wait: float) -> None:
    ctx.counters.retries += 1
    code = getattr(exc, "code", type(exc).__name__)
    event(logging.INFO, "retry", error=code, detail=str(exc), waitSeconds=round(wait, 3))


async def _run_stages(ctx: RunContext, rows: Iterator[ManifestRow], writer: ReportWriter) -> None:
    s = ctx.settings
    report_tx, report_rx = anyio.create_memory_object_stream[ReportLine](256)
    jobs_tx, jobs_rx = anyio.create_memory_object_stream[RowJob](s.upload_workers * 2)
    up_tx, up_rx = anyio.create_memory_object_stream[RowJob](s.batch_size * 2)
    tickets_tx, tickets_rx = anyio.create_memory_object_stream[Ticket](64)
    async with anyio.create_task_group() as tg:
        tg.start_soon(report_stage, writer, report_rx)
        tg.start_soon(poll_stage, ctx, tickets_rx, report_tx.clone())
        reader_tickets = tickets_tx.clone()
        tg.start_soon(batch_stage, ctx, up_rx, tickets_tx, report_tx.clone())
        for _ in range(s.upload_workers):
            tg.start_soon(upload_worker, ctx, jobs_rx.clone(), up_tx.clone(), report_tx.clone())
        jobs_rx.close()
        tg.start_soon(read_stage, ctx, rows, jobs_tx, up_tx, reader_tickets, report_tx)
