"""Feeding a ProgressView from a running pipeline: totals, rates, snapshots."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from batcher.context import RunContext
from batcher.errors import UsageError
from batcher.progress.eta import EtaModel, Rates, Work, estimate
from batcher.progress.model import ProgressView, Snapshot
from batcher.rows.manifest import read_manifest
from batcher.stages.report import ReportTally


@dataclass
class Totals:
    rows: int | None = None
    bytes: int | None = None


def prescan(
    manifest: Path, base: Path, totals: Totals, stop: threading.Event, encoding: str | None = None
) -> None:
    """Count rows and bytes ahead of the pipeline (in a worker thread) for the ETA.

    The same reader as the run's, so it counts exactly the rows the run will report; a
    manifest it cannot read (changed since the run started) leaves the totals unknown."""
    rows = size = 0
    try:
        for row in read_manifest(manifest, encoding=encoding):
            if stop.is_set():
                return
            rows += 1
            if row.problem is not None:
                continue
            try:
                st = row.resolve(base).stat()
            except (OSError, ValueError):
                continue
            size += st.st_size
    except (UsageError, OSError):
        return
    totals.rows, totals.bytes = rows, size


def snapshot(
    ctx: RunContext,
    tally: ReportTally,
    totals: Totals,
    model: EtaModel | None,
    started: float,
) -> Snapshot:
    """``model`` None: the final snapshot, whose rates are whole-run averages and whose byte
    total is what was sent (nothing is left to send once the run is over)."""
    now = ctx.clock.now()
    c = ctx.counters
    by_status = tally.summary.by_status
    done = len(tally.reported_rows)
    bytes_total = None
    bytes_left = None
    if totals.bytes is not None:
        # Never below what was sent: a row that failed mid-upload is skipped whole.
        bytes_total = max(c.bytes_sent, totals.bytes - c.bytes_skipped)
        bytes_left = bytes_total - c.bytes_sent
    rows_left = None if totals.rows is None else max(0, totals.rows - done)
    results = by_status["complete"] + by_status["failed"]
    work = Work(
        rows_left=rows_left,
        bytes_left=bytes_left,
        waiting_submit=max(0, c.files_uploaded - c.rows_submitted),
        processing=max(0, c.rows_submitted - results),
        reading=totals.rows is None or c.rows_read < totals.rows,
        stopping=ctx.stopping.is_set(),
    )
    if model is not None:
        est = model.update(now, bytes_sent=c.bytes_sent, rows_done=done, work=work)
        rates = model.last
    else:
        span = max(now - started, 1e-9)
        rates = Rates(c.bytes_sent / span, done / span)
        est = estimate(work, rates)
        bytes_total = c.bytes_sent
    return Snapshot(
        elapsed=now - started,
        rows_total=totals.rows,
        bytes_total=bytes_total,
        rows_read=c.rows_read,
        bytes_sent=c.bytes_sent,
        files_uploaded=c.files_uploaded,
        rows_submitted=c.rows_submitted,
        rows_done=done,
        complete=by_status["complete"],
        failed=by_status["failed"],
        errors=by_status["error"],
        bytes_per_second=rates.bytes_per_second,
        rows_per_second=rates.rows_per_second,
        eta_seconds=est.seconds,
        phase=est.phase,
        eta_at_least=est.at_least,
        notice=_notice(ctx),
    )


async def progress_loop(
    ctx: RunContext, tally: ReportTally, view: ProgressView, totals: Totals, started: float
) -> None:
    model = EtaModel()
    while True:
        view.update(snapshot(ctx, tally, totals, model, started))
        await ctx.clock.sleep(view.interval)


def _notice(ctx: RunContext) -> str | None:
    """What the user should know now: a host unreachable, or a rate-limit bucket shut."""
    if ctx.breakers is not None and (text := ctx.breakers.notice()) is not None:
        return text
    return None if ctx.pacing is None else ctx.pacing.closed_line()
