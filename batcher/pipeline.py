"""run_batch(): the stage graph. The only module that knows how stages connect.

    read+preflight ─► upload ×U ─► batch+submit ─► poll ×P ─┐
          │               │              │                  ├─► report writer (one task)
          └───────────────┴──────────────┴──────────────────┘

Stages are joined by bounded memory object streams; each worker gets its own clone of a
stream end and the originals are closed, so each stage ends exactly when the one before it
is done, and the report writer ends when every sender is closed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import anyio
from anyio.abc import ObjectSendStream

from batcher.api.client import MediaMagicClient
from batcher.clock import Clock, RealClock
from batcher.config import Settings
from batcher.context import RunContext
from batcher.errors import BatcherError, FatalApiError, InputError, UsageError
from batcher.manifest import ManifestRow, read_manifest
from batcher.outcome import ErrorInfo, ReportLine, RowJob
from batcher.preflight import check_row
from batcher.ratelimit import RateGates
from batcher.retry import Retrier, RetryPolicy
from batcher.stages.poll import poll_stage
from batcher.stages.report import ReportWriter, report_stage
from batcher.stages.submit import Ticket, batch_stage
from batcher.stages.upload import upload_worker
from batcher.summary import RunSummary
from batcher.upload.blob import BlobSettings, BlobUploader
from batcher.upload.budget import MemoryBudget


def default_report_path(manifest: Path) -> Path:
    return Path.cwd() / f"{manifest.stem}.report.jsonl"


async def _read_stage(
    ctx: RunContext,
    rows: Iterator[ManifestRow],
    jobs: ObjectSendStream[RowJob],
    report: ObjectSendStream[ReportLine],
) -> None:
    seen: dict[Path, int] = {}
    async with jobs, report:
        for row in rows:
            job, problem = check_row(row, ctx.manifest_dir, ctx.settings)
            if problem is None and job.path is not None:
                identity = job.path.resolve()
                first = seen.setdefault(identity, job.row)
                if first != job.row:
                    problem = InputError(
                        f"same file as row {first}; not sent twice", code="duplicate_row"
                    )
            if problem is not None:
                await report.send(job.fail("preflight", problem))
            else:
                await jobs.send(job)


def _first_fatal(exc: BaseException) -> BatcherError | None:
    if isinstance(exc, FatalApiError | UsageError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _first_fatal(inner)
            if found is not None:
                return found
    return None


def _report_unfinished(writer: ReportWriter, manifest: Path, reason: BatcherError) -> None:
    """After an abort, every row still gets its line (nothing is lost, only unfinished)."""
    info = ErrorInfo(stage="run", code="aborted", message=f"run aborted: {reason.message}")
    for row in read_manifest(manifest):
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
    manifest: Path, settings: Settings, *, clock: Clock | None = None
) -> RunSummary:
    """Upload, submit, track and report every row of ``manifest``."""
    clock = clock or RealClock()
    if settings.api_key is None:
        raise UsageError("no API key: set MEDIAMAGIC_API_KEY or use --api-key-file")
    rows = read_manifest(manifest)
    report_path = settings.report_path or default_report_path(manifest)
    writer = ReportWriter(report_path)
    started = clock.now()
    run_id = uuid.uuid4().hex
    policy = RetryPolicy(
        attempts=settings.retry_attempts,
        budget_seconds=settings.retry_budget,
        initial_wait=settings.retry_initial_wait,
    )
    gates = RateGates(clock)
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, enable_cleanup_closed=True)
    fatal: BatcherError | None = None
    retrier = Retrier(policy=policy, clock=clock)
    budget = MemoryBudget(settings.memory_budget)
    try:
        async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
            client = MediaMagicClient(
                session,
                base_url=settings.base_url,
                api_key=settings.api_key,
                gates=gates,
                retrier=retrier,
                timeout=settings.request_timeout,
            )
            uploader = BlobUploader(session, _blob_settings(settings), budget, retrier, clock=clock)
            ctx = RunContext(
                settings, client, uploader, budget, clock, run_id, _manifest_dir(manifest)
            )
            retrier.on_retry = lambda _exc, _wait: _count_retry(ctx)
            try:
                await _run_stages(ctx, rows, writer)
            except BaseException as exc:
                fatal = _first_fatal(exc)
                if fatal is None:
                    raise
        if fatal is not None:
            _report_unfinished(writer, manifest, fatal)
            raise fatal
    finally:
        writer.close()
    return RunSummary.build(
        writer.tally,
        report_path=report_path,
        wall_seconds=clock.now() - started,
        counters=ctx.counters,
        throttled=dict(client.throttled),
    )


def _manifest_dir(manifest: Path) -> Path:
    """Relative paths in the manifest resolve against its folder."""
    return Path(os.path.abspath(manifest)).parent


def _count_retry(ctx: RunContext) -> None:
    ctx.counters.retries += 1


async def _run_stages(ctx: RunContext, rows: Iterator[ManifestRow], writer: ReportWriter) -> None:
    s = ctx.settings
    report_tx, report_rx = anyio.create_memory_object_stream[ReportLine](256)
    jobs_tx, jobs_rx = anyio.create_memory_object_stream[RowJob](s.upload_workers * 2)
    up_tx, up_rx = anyio.create_memory_object_stream[RowJob](s.batch_size * 2)
    tickets_tx, tickets_rx = anyio.create_memory_object_stream[Ticket](64)
    async with anyio.create_task_group() as tg:
        tg.start_soon(report_stage, writer, report_rx)
        tg.start_soon(poll_stage, ctx, tickets_rx, report_tx.clone())
        tg.start_soon(batch_stage, ctx, up_rx, tickets_tx, report_tx.clone())
        for _ in range(s.upload_workers):
            tg.start_soon(upload_worker, ctx, jobs_rx.clone(), up_tx.clone(), report_tx.clone())
        jobs_rx.close()
        up_tx.close()
        tg.start_soon(_read_stage, ctx, rows, jobs_tx, report_tx)
