"""The report writer survives text that cannot be UTF-8: the row still gets its line."""

from __future__ import annotations

import json
from pathlib import Path

from batcher.outcome import ErrorInfo, ReportLine
from batcher.stages.report import ReportWriter


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
