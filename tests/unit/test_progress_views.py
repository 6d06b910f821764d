"""Views and notices: error codes on a terminal, JSON stats, the turning-point messages."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from rich.console import Console

from batcher.outcome import ErrorInfo, ReportLine
from batcher.progress.notices import resume_text, stopping_text, unfinished_text
from batcher.progress.streams import SafeStream
from batcher.progress.views import JsonView, QuietView, RichView, TeeView
from batcher.state.rows import RowState
from tests.unit.test_progress import _snap

BAD = ReportLine(
    row=2,
    path="b.png",
    status="error",
    error=ErrorInfo(stage="preflight", code="file_not_found", message="gone"),
)


def test_terminal_error_lines_keep_the_error_code() -> None:
    out = io.StringIO()
    view = RichView(Console(file=out, force_terminal=True, width=200))
    view.row_finished(BAD)
    view.close(_snap())
    assert "row 2 error [preflight/file_not_found] b.png: gone" in out.getvalue()


def test_json_view_writes_one_object_per_update_and_a_final_one() -> None:
    out = io.StringIO()
    view = JsonView(out, interval=1)
    view.update(_snap())
    view.notice("stopping: 3 rows in flight, 10 s at most; Ctrl-C again to stop now")
    view.row_finished(BAD)  # per-row outcomes are the report's, not this stream's
    view.close(_snap(phase="done", eta_seconds=0.0))
    objects = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [o["event"] for o in objects] == ["stats", "notice", "stats"]
    assert objects[0]["rows"]["done"] == 20 and objects[0]["bytes"]["sent"] == 4_000_000
    assert objects[0]["etaSeconds"] == 6.0 and objects[0]["phase"] == "uploading"
    assert objects[2]["final"] is True


def test_tee_updates_each_view_at_its_own_interval() -> None:
    fast, slow = io.StringIO(), io.StringIO()
    tee = TeeView([JsonView(fast, interval=1), JsonView(slow, interval=10)])
    for t in range(12):
        tee.update(_snap(elapsed=float(t)))
    assert len(fast.getvalue().splitlines()) == 12
    assert len(slow.getvalue().splitlines()) == 2  # at 0 s and 10 s


def test_quiet_view_still_acknowledges_a_stop() -> None:
    out = io.StringIO()
    view = QuietView(out)
    view.notice("resuming the sweep of 02:00: 3 rows done")
    view.notice(stopping_text(8, 10))
    assert out.getvalue() == "stopping: 8 rows in flight, 10 s at most; Ctrl-C again to stop now\n"


def test_resume_text_says_when_and_how_far() -> None:
    today = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    states = {RowState.REPORTED: 1204, RowState.CHECKED: 37, RowState.SUBMITTED: 120}
    text = resume_text(today.replace(hour=2, minute=0), states, 3, today=today)
    assert text == "resuming the sweep of 02:00: 1,204 rows done, 37 uploading, 3 submissions open"
    yesterday = today - timedelta(days=1)
    assert "of 2026-11-27 09:30:" in resume_text(yesterday, {}, 0, today=today)
    assert resume_text(None, {RowState.UPLOADED: 2}, 1, today=today) == (
        "resuming the sweep: 0 rows done, 2 uploaded, to submit, 1 submission open"
    )


def test_unfinished_text_is_one_line() -> None:
    text = unfinished_text(282, "interrupted", "r.jsonl")
    assert text.startswith("282 rows left unfinished (interrupted)") and "\n" not in text


class _Dead(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_safe_stream_swallows_a_broken_pipe_and_stops_writing() -> None:
    dead = _Dead()
    stream = SafeStream(dead)
    assert stream.write("one\n") == 4
    stream.flush()
    assert stream.broken
    assert stream.write("two\n") == 4  # dropped without trying again
