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
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import anyio

from batcher.api.probe import check_service
from batcher.assembly import Transports as Transports
from batcher.assembly import open_context, pacing_figures
from batcher.clock import Clock, RealClock
from batcher.completeness import RowsRead, check_every_row_reported, report_unfinished
from batcher.config import Settings
from batcher.context import RunContext
from batcher.errors import (
    BatcherError,
    DiskFullError,
    FatalApiError,
    Interrupted,
    ReportWriteError,
    ServiceUnreachable,
    ThrottledTooLong,
    UsageError,
)
from batcher.outcome import ReportLine, RowJob, Ticket
from batcher.progress.announce import announce_resume, on_stop
from batcher.progress.fanout import LineFanout, RowCallback
from batcher.progress.loop import Totals, prescan, progress_loop, snapshot
from batcher.progress.model import ProgressView
from batcher.redact import Redactor
from batcher.rows.manifest import ManifestRow, read_manifest
from batcher.scale.gates import SharedGates
from batcher.scale.shard import bind_journal
from batcher.shutdown import Shutdown
from batcher.stages.carry import Sweep
from batcher.stages.poll import poll_stage
from batcher.stages.read import read_stage
from batcher.stages.refresh import refresh_worker
from batcher.stages.report import ReportWriter, report_stage
from batcher.stages.submit import batch_stage
from batcher.stages.upload import upload_worker
from batcher.state.journal import Journal
from batcher.summary import NotSent, RunSummary
from batcher.webhooks.lifecycle import run_hooks


def default_report_path(manifest: Path) -> Path:
    return Path.cwd() / f"{manifest.stem}.report.jsonl"


def journal_path_for(report: Path) -> Path:
    return report.with_name(report.name + ".journal.sqlite")


def _first_fatal(exc: BaseException) -> BatcherError | None:
    if isinstance(
        exc, FatalApiError | UsageError | DiskFullError | ThrottledTooLong | ServiceUnreachable
    ):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _first_fatal(inner)
            if found is not None:
                return found
    return None


@dataclass
class Watch:
    """What runs beside the stages: signal handling and a progress view."""

    shutdown: Shutdown
    handle_signals: bool
    view: ProgressView | None
    manifest: Path
    fanout: LineFanout
    only_rows: frozenset[int] | None = None


async def _run_watched(
    ctx: RunContext,
    rows: Iterator[ManifestRow],
    writer: ReportWriter,
    watch: Watch,
    sweep: Sweep | None = None,
) -> None:
    # A retry of some rows: their number is known, and counting the whole manifest's rows
    # and bytes would give a wrong bar and ETA (bytes stay unknown: the ETA uses rows).
    totals = Totals() if watch.only_rows is None else Totals(rows=len(watch.only_rows))
    stop_prescan = threading.Event()
    started = ctx.clock.now()
    try:
        async with anyio.create_task_group() as outer:
            with anyio.CancelScope() as stages:
                outer.start_soon(watch.shutdown.enforce_grace, stages)
                if watch.handle_signals:
                    outer.start_soon(watch.shutdown.watch, stages)
                writer.on_line = watch.fanout
                wants_totals = getattr(watch.view, "needs_totals", True)  # quiet: no ETA
                if watch.view is not None and watch.only_rows is None and wants_totals:
                    outer.start_soon(
                        partial(anyio.to_thread.run_sync, abandon_on_cancel=True),
                        prescan,
                        watch.manifest,
                        ctx.manifest_dir,
                        totals,
                        stop_prescan,
                        ctx.settings.manifest_encoding,
                    )
                if watch.view is not None:
                    outer.start_soon(progress_loop, ctx, writer.tally, watch.view, totals, started)
                # Before the first upload (and under Ctrl-C): a wrong URL or key fails in
                # seconds, not row by row.
                await check_service(ctx.client, ctx.settings.base_url, ctx.clock)
                await _run_stages(ctx, rows, writer, sweep)
            outer.cancel_scope.cancel()
    finally:
        stop_prescan.set()
        if watch.view is not None:
            final = snapshot(ctx, writer.tally, totals, None, started)
            watch.view.close(final)


def _rows(manifest: Path, only: frozenset[int] | None, settings: Settings) -> Iterator[ManifestRow]:
    rows = read_manifest(manifest, encoding=settings.manifest_encoding)
    if settings.shard is not None:
        rows = settings.shard.filter(rows)
    return rows if only is None else (row for row in rows if row.row in only)


async def run_batch(
    manifest: Path,
    settings: Settings,
    *,
    clock: Clock | None = None,
    handle_signals: bool = False,
    view: ProgressView | None = None,
    only_rows: frozenset[int] | None = None,
    transports: Transports | None = None,
    gates: SharedGates | None = None,
    on_row: RowCallback | None = None,
) -> RunSummary:
    """Upload, submit, track and report every row of ``manifest``; resume from the journal.

    With ``handle_signals`` (the CLI), SIGINT/SIGTERM stop the run gracefully and it raises
    ``Interrupted`` once every row has a line (unfinished ones say how to resume). A ``view``
    is shown live progress and each finished row. ``only_rows`` limits the run to those
    manifest rows (``batcher retry``); the others are neither read further nor reported.
    ``transports`` replaces the HTTP seams (tests: ``FakeMediaMagic`` and its blob service).
    ``settings.shard`` limits it to one shard's rows; ``gates`` (default: this process's
    own) are the rate-limit gates, shared between the shards of a ``batcher ray`` run.
    ``on_row`` is called with each row's ``ReportLine`` as it is written to the report,
    exactly once per row, lines carried from an earlier run's journal included; it runs in
    the report writer, so keep it quick (an exception from it stops the run).
    """
    clock = clock or RealClock()
    if settings.api_key is None:
        raise UsageError("no API key: set MEDIAMAGIC_API_KEY or use --api-key-file")
    read = RowsRead()
    rows = read.track(_rows(manifest, only_rows, settings))
    report_path = settings.report_path or default_report_path(manifest)
    # The report first: an unwritable report path is the likelier mistake and names itself.
    writer = ReportWriter(report_path)
    writer.redactor = Redactor.of(settings.api_key)
    try:
        journal = Journal(
            settings.journal_path or journal_path_for(report_path),
            fresh=settings.fresh,
            now=clock.now,
            incremental=settings.incremental,
        )
    except BaseException:
        writer.close()
        raise
    writer.journal = journal
    journal.record_manifest(_absolute(manifest))
    not_sent = NotSent()
    fanout = LineFanout(view, [not_sent.written] + ([on_row] if on_row else []))
    sweep = None
    if journal.history is not None:
        sweep = Sweep(
            journal.history, max_age_days=settings.max_age_days, checksum=settings.checksum
        )
        fanout.listeners.append(sweep.line_written)
    try:
        bind_journal(journal.store, settings.shard)
        announce_resume(journal, fanout)
        started = clock.now()
        async with open_context(
            settings, clock, journal, _manifest_dir(manifest), transports, gates
        ) as ctx:
            shutdown = Shutdown(
                settings.shutdown_grace, clock, partial(on_stop, ctx, writer.tally, fanout)
            )
            ctx.stopping = shutdown.requested
            try:
                watch = Watch(shutdown, handle_signals, view, manifest, fanout, only_rows)
                await _run_watched(ctx, rows, writer, watch, sweep)
            except BaseException as exc:
                fatal = _first_fatal(exc)
                if fatal is None:
                    raise
                if isinstance(fatal, ThrottledTooLong):  # stopped, like an interruption
                    unfinished = _rows(manifest, only_rows, settings)
                    report_unfinished(writer, unfinished, fatal.code, fatal.message, fanout, ctx)
                elif isinstance(fatal, ServiceUnreachable):  # a clean stop: resumable
                    unfinished = _rows(manifest, only_rows, settings)
                    report_unfinished(
                        writer, unfinished, fatal.code, fatal.message, fanout, ctx, retryable=True
                    )
                elif not isinstance(fatal, ReportWriteError | DiskFullError):  # nowhere to write
                    message = f"run aborted: {fatal.message}"
                    unfinished = _rows(manifest, only_rows, settings)
                    report_unfinished(writer, unfinished, "aborted", message, fanout, ctx)
                raise fatal from None
            if shutdown.requested.is_set():
                unfinished = _rows(manifest, only_rows, settings)
                report_unfinished(writer, unfinished, "interrupted", shutdown.reason, fanout, ctx)
                raise Interrupted(shutdown.reason)
            missing = check_every_row_reported(read, writer)
            if writer.tally.provisional == 0 and not missing:
                if sweep is not None and only_rows is None:
                    sweep.finish()  # rows gone from the manifest: counted, then forgotten
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
        not_sent=not_sent,
        missing=missing,
        sweep=sweep,
        pacing=pacing_figures(ctx),
    )


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def _manifest_dir(manifest: Path) -> Path:
    """Relative paths in the manifest resolve against its folder."""
    return _absolute(manifest).parent


async def _run_stages(
    ctx: RunContext,
    rows: Iterator[ManifestRow],
    writer: ReportWriter,
    sweep: Sweep | None = None,
) -> None:
    s = ctx.settings
    report_tx, report_rx = anyio.create_memory_object_stream[ReportLine](256)
    jobs_tx, jobs_rx = anyio.create_memory_object_stream[RowJob](s.upload_workers * 2)
    up_tx, up_rx = anyio.create_memory_object_stream[RowJob](s.batch_size * 2)
    tickets_tx, tickets_rx = anyio.create_memory_object_stream[Ticket](64)
    # Webhooks on: the receiver and the run's subscription live around the stages.
    async with run_hooks(ctx) as hooks, anyio.create_task_group() as tg:
        tg.start_soon(report_stage, writer, report_rx)
        wakeups = hooks.wakeups if hooks else None
        tg.start_soon(poll_stage, ctx, tickets_rx, report_tx.clone(), wakeups)
        reader_tickets = tickets_tx.clone()
        tg.start_soon(batch_stage, ctx, up_rx, tickets_tx, report_tx.clone())
        for _ in range(s.upload_workers):
            tg.start_soon(upload_worker, ctx, jobs_rx.clone(), up_tx.clone(), report_tx.clone())
        jobs_rx.close()
        refresh_tx = None
        if s.refresh_issues and sweep is not None:  # carried rows' results fetched again
            refresh_tx, refresh_rx = anyio.create_memory_object_stream[ReportLine](64)
            for _ in range(s.upload_workers):
                tg.start_soon(refresh_worker, ctx, refresh_rx.clone(), report_tx.clone())
            refresh_rx.close()
        tg.start_soon(
            read_stage, ctx, rows, jobs_tx, up_tx, reader_tickets, report_tx, sweep, writer,
            refresh_tx,
        )  # fmt: skip
