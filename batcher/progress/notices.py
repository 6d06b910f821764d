"""What a run says at its turning points: resuming, stopping, rows left unfinished.

Pure text from plain figures, so each message is tested without a run; the pipeline sends
them to the view (stderr) and to the log.
"""

from __future__ import annotations

from datetime import datetime

from batcher.state.rows import RowState


def resume_text(
    started: datetime | None,
    states: dict[RowState, int],
    open_submissions: int,
    *,
    today: datetime,
) -> str:
    """``resuming the sweep of 02:00: 1,204 rows done, 37 uploading, 3 submissions open``."""
    when = ""
    if started is not None:
        local = started.astimezone(today.tzinfo)
        when = (
            f" of {local:%H:%M}" if local.date() == today.date() else f" of {local:%Y-%m-%d %H:%M}"
        )
    parts = [f"{states.get(RowState.REPORTED, 0):,} rows done"]
    uploading = states.get(RowState.CHECKED, 0)
    to_submit = states.get(RowState.UPLOADED, 0) + states.get(RowState.SUBMITTING, 0)
    if uploading:
        parts.append(f"{uploading:,} uploading")
    if to_submit:
        parts.append(f"{to_submit:,} uploaded, to submit")
    if open_submissions:
        noun = "submission" if open_submissions == 1 else "submissions"
        parts.append(f"{open_submissions:,} {noun} open")
    return f"resuming the sweep{when}: " + ", ".join(parts)


def stopping_text(in_flight: int, grace: float) -> str:
    """The first Ctrl-C, acknowledged at once (bars stop, no countdown)."""
    rows = "row" if in_flight == 1 else "rows"
    return (
        f"stopping: {in_flight:,} {rows} in flight, {grace:g} s at most; Ctrl-C again to stop now"
    )


def unfinished_text(count: int, code: str, report: object) -> str:
    """One line for all the rows an abort or interruption left, instead of one per row."""
    rows = "row" if count == 1 else "rows"
    return (
        f"{count:,} {rows} left unfinished ({code}): each has an '{code}' line in {report}; "
        "re-run the same command to resume them"
    )
