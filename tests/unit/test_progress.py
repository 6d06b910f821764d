from __future__ import annotations

import io

from batcher.outcome import ErrorInfo, ReportLine
from batcher.progress.model import RateWindow, Snapshot, clock_text, eta, status_line
from batcher.progress.views import PlainView


def _snap(**kw: object) -> Snapshot:
    values: dict[str, object] = dict(
        elapsed=65.0,
        rows_total=100,
        bytes_total=10_000_000,
        rows_read=50,
        bytes_sent=4_000_000,
        files_uploaded=40,
        rows_submitted=30,
        rows_done=20,
        complete=18,
        failed=1,
        errors=1,
        bytes_per_second=1_000_000.0,
        rows_per_second=2.0,
        eta_seconds=6.0,
    )
    values.update(kw)
    return Snapshot(**values)  # type: ignore[arg-type]


def test_rate_uses_the_recent_window_not_the_whole_run() -> None:
    window = RateWindow(window=10)
    window.add(0, 0, 0)
    window.add(5, 100, 1)  # a slow start ...
    for t in range(6, 40):
        rate, _ = window.add(t, 100 + (t - 5) * 1000, 1)
    # ... forgotten: 1000 B/s now, though the whole-run average is below that.
    assert 950 <= rate <= 1000
    assert rate > (100 + 34 * 1000) / 39


def test_eta_from_bytes_then_rows() -> None:
    assert eta(bytes_left=5_000, rows_left=10, bytes_rate=1_000, rows_rate=1) == 5
    assert eta(bytes_left=0, rows_left=10, bytes_rate=1_000, rows_rate=2) == 5
    assert eta(bytes_left=5_000, rows_left=10, bytes_rate=0, rows_rate=2) is None
    assert eta(bytes_left=0, rows_left=0, bytes_rate=0, rows_rate=0) == 0


def test_status_line_says_every_stage() -> None:
    line = status_line(_snap())
    for part in [
        "[00:01:05]",
        "rows 20/100 done",
        "18 complete",
        "1 failed",
        "1 errors",
        "uploaded 40 files",
        "4.0 MB/10.0 MB",
        "1.0 MB/s",
        "30 submitted",
        "11 processing",
        "ETA 00:00:06",
    ]:
        assert part in line, part
    assert clock_text(None) == "--:--:--"


def test_plain_view_prints_status_lines_and_one_line_per_failure_only() -> None:
    out = io.StringIO()
    view = PlainView(out, interval=5)
    view.update(_snap())
    ok = ReportLine(row=1, path="a.png", status="complete")
    bad = ReportLine(
        row=2,
        path="b.png",
        status="error",
        error=ErrorInfo(stage="preflight", code="file_not_found", message="gone"),
    )
    view.row_finished(ok)
    view.row_finished(bad)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[1] == "row 2 error [preflight/file_not_found] b.png: gone"
    assert "\x1b" not in out.getvalue()  # nothing that redraws
