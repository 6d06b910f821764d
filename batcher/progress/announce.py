"""The run's turning points, told to the user (the view) and the log: a resumed sweep at
the start, a stop request the moment it comes."""

from __future__ import annotations

from datetime import UTC, datetime

from batcher.context import RunContext
from batcher.logs import NOTICE, event
from batcher.progress.fanout import LineFanout
from batcher.progress.notices import resume_text, stopping_text
from batcher.stages.report import ReportTally
from batcher.state.journal import Journal


def notice(fanout: LineFanout, text: str) -> None:
    event(NOTICE, text)
    fanout.notice(text)


def _sweep_started(journal: Journal) -> datetime | None:
    """When the sweep this journal belongs to began (wall clock, for the resume notice)."""
    text = journal.store.meta("started")
    if text is None:
        journal.store.set_meta("started", datetime.now(UTC).isoformat(timespec="seconds"))
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def announce_resume(journal: Journal, fanout: LineFanout) -> None:
    started = _sweep_started(journal)
    if journal.resumed:
        states = journal.rows.statistics()
        opened = journal.rows.open_submissions()
        now = datetime.now().astimezone()
        notice(fanout, resume_text(started, states, opened, today=now))


def on_stop(ctx: RunContext, tally: ReportTally, fanout: LineFanout, now: bool) -> None:
    if now:
        notice(fanout, "stopping now")
        return
    in_flight = max(0, ctx.counters.rows_read - len(tally.reported_rows))
    notice(fanout, stopping_text(in_flight, ctx.settings.shutdown_grace))
