from __future__ import annotations

import io

from batcher.outcome import ErrorInfo, ReportLine
from batcher.progress.eta import RateWindow
from batcher.progress.model import Snapshot, clock_text, size_text, status_line
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
        rate = window.add(t, 100 + (t - 5) * 1000, 1).bytes_per_second
    # ... forgotten: 1000 B/s now, though the whole-run average is below that.
    assert 950 <= rate <= 1000
    assert rate > (100 + 34 * 1000) / 39


def test_sizes_use_si_symbols_like_the_reports() -> None:
    assert size_text(1_500) == "1.5 kB"
    assert size_text(2_000_000) == "2.0 MB"
    assert "KB" not in status_line(_snap(bytes_sent=1_500, bytes_per_second=900))


def test_after_uploads_the_phase_replaces_the_rate() -> None:
    line = status_line(_snap(phase="waiting for results", bytes_per_second=12.0))
    assert "waiting for results" in line and "uploads done" in line and "/s" not in line


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
