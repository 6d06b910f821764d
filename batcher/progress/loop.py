"""Feeding a ProgressView from a running pipeline: totals, rates, snapshots."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from batcher.context import RunContext
from batcher.progress.model import ProgressView, RateWindow, Snapshot, eta
from batcher.rows.manifest import read_manifest
from batcher.stages.report import ReportTally


@dataclass
class Totals:
    rows: int | None = None
    bytes: int | None = None


def prescan(manifest: Path, base: Path, totals: Totals, stop: threading.Event) -> None:
    """Count rows and bytes ahead of the pipeline (in a worker thread) for the ETA."""
    rows = size = 0
    for row in read_manifest(manifest):
        if stop.is_set():
            return
        rows += 1
        try:
            st = row.resolve(base).stat()
        except (OSError, ValueError):
            continue
        size += st.st_size
    totals.rows, totals.bytes = rows, size


def snapshot(
    ctx: RunContext,
    tally: ReportTally,
    totals: Totals,
    window: RateWindow | None,
    started: float,
) -> Snapshot:
    """``window`` None: the final snapshot, whose rates are whole-run averages."""
    now = ctx.clock.now()
    c = ctx.counters
    by_status = tally.summary.by_status
    done = len(tally.reported_rows)
    if window is not None:
        bytes_rate, rows_rate = window.add(now, c.bytes_sent, done)
    else:
        span = max(now - started, 1e-9)
        bytes_rate, rows_rate = c.bytes_sent / span, done / span
    bytes_left = None
    if totals.bytes is not None:
        bytes_left = max(0, totals.bytes - c.bytes_sent - c.bytes_skipped)
    rows_left = None if totals.rows is None else max(0, totals.rows - done)
    return Snapshot(
        elapsed=now - started,
        rows_total=totals.rows,
        bytes_total=None if totals.bytes is None else totals.bytes - c.bytes_skipped,
        rows_read=c.rows_read,
        bytes_sent=c.bytes_sent,
        files_uploaded=c.files_uploaded,
        rows_submitted=c.rows_submitted,
        rows_done=done,
        complete=by_status["complete"],
        failed=by_status["failed"],
        errors=by_status["error"],
        bytes_per_second=bytes_rate,
        rows_per_second=rows_rate,
        eta_seconds=eta(
            bytes_left=bytes_left, rows_left=rows_left, bytes_rate=bytes_rate, rows_rate=rows_rate
        ),
        notice=None if ctx.breakers is None else ctx.breakers.notice(),
    )


async def progress_loop(
    ctx: RunContext, tally: ReportTally, view: ProgressView, totals: Totals, started: float
) -> None:
    window = RateWindow()
    while True:
        view.update(snapshot(ctx, tally, totals, window, started))
        await ctx.clock.sleep(view.interval)
