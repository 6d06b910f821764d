"""The report writer survives text that cannot be UTF-8: the row still gets its line."""

from __future__ import annotations

import json
from pathlib import Path

from batcher.outcome import ErrorInfo, ReportLine
from batcher.stages.report import FLUSH_LINES, ReportWriter


def test_a_lone_surrogate_in_a_line_is_escaped_not_fatal(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path / "r.jsonl")
    bad = ReportLine(
        row=1,
        path="a\udcff.png",
        status="error",
        error=ErrorInfo(stage="preflight", code="x", message="m \ud800"),
        columns={"note": "\ud800", "k\udc80": ["\udfff"]},
    )
    writer.write(bad)
    writer.write(ReportLine(row=2, path="b.png", status="complete"))
    writer.close()
    lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text("utf-8").splitlines()]
    assert [x["row"] for x in lines] == [1, 2]
    assert lines[0]["path"] == "a\\xff.png"
    assert lines[0]["columns"] == {"note": "\\ud800", "k\\x80": ["\\udfff"]}
    assert lines[0]["error"]["message"] == "m \\ud800"
    assert writer.tally.reported_rows.__contains__(1)


def test_unflushed_lines_reach_the_file_by_flush_count_or_close(tmp_path: Path) -> None:
    """Carried lines are written with ``flush=False``: they land with the next flushed line,
    on ``flush()``, every ``FLUSH_LINES`` lines, and on close, and never twice."""
    path = tmp_path / "r.jsonl"
    writer = ReportWriter(path)

    def written() -> list[int]:
        return [json.loads(x)["row"] for x in path.read_text().splitlines()]

    def line(row: int) -> ReportLine:
        return ReportLine(row=row, path=f"f{row}.png", status="complete")

    writer.write(line(1), flush=False)
    writer.write(line(2), flush=False)
    assert written() == []
    writer.flush()
    assert written() == [1, 2]
    writer.write(line(3), flush=False)
    writer.write(line(4))  # a flushed line takes the carried ones with it
    assert written() == [1, 2, 3, 4]
    for row in range(5, 5 + FLUSH_LINES):
        writer.write(line(row), flush=False)
    assert written() == list(range(1, 5 + FLUSH_LINES))
    writer.write(line(3), flush=False)  # exactly once
    writer.write(line(10_000), flush=False)
    writer.close()
    assert written() == [*range(1, 5 + FLUSH_LINES), 10_000]
