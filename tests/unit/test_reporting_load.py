from __future__ import annotations

from pathlib import Path

import pytest

from batcher.errors import ReportUnreadable
from batcher.outcome import ErrorInfo, ReportLine
from batcher.reporting.load import open_report


def _line(row: int, status: str = "complete") -> str:
    error = ErrorInfo(stage="upload", code="x", message="m") if status == "error" else None
    return ReportLine(row=row, path=f"a/{row}.png", status=status, error=error).to_json()


def test_reads_every_line_in_order(tmp_path: Path) -> None:
    report = tmp_path / "r.jsonl"
    report.write_text("".join(_line(n) + "\n" for n in (1, 2, 3)), encoding="utf-8")
    reader = open_report(report)
    rows = [loaded.line.row for loaded in reader]
    assert rows == [1, 2, 3]
    assert reader.unreadable == 0
    assert reader.describe_problems() == ""


def test_truncated_last_line_is_counted_and_the_rest_is_read(tmp_path: Path) -> None:
    report = tmp_path / "r.jsonl"
    whole = _line(1) + "\n" + _line(2) + "\n"
    report.write_text(whole + _line(3)[:25], encoding="utf-8")  # the writer died mid-line
    reader = open_report(report)
    assert [loaded.line.row for loaded in reader] == [1, 2]
    assert reader.unreadable == 1
    (problem,) = reader.problems
    assert problem.lineno == 3
    assert problem.truncated
    assert "1 unreadable line" in reader.describe_problems()
    assert "stopped mid-write" in reader.describe_problems()


def test_a_complete_last_line_without_newline_is_not_a_problem(tmp_path: Path) -> None:
    report = tmp_path / "r.jsonl"
    report.write_text(_line(1) + "\n" + _line(2), encoding="utf-8")
    reader = open_report(report)
    assert len(list(reader)) == 2
    assert reader.unreadable == 0


def test_bad_lines_in_the_middle_are_skipped_with_their_reason(tmp_path: Path) -> None:
    report = tmp_path / "r.jsonl"
    lines = [_line(1), "not json", '{"row": "x"}', "", _line(4)]
    report.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe\n")
    reader = open_report(report)
    assert [loaded.line.row for loaded in reader] == [1, 4]
    assert reader.unreadable == 3
    reasons = [p.reason for p in reader.problems]
    assert reasons[0].startswith("not valid JSON")
    assert reasons[1].startswith("not a report line")
    assert reasons[2] == "not valid UTF-8"
    assert [p.lineno for p in reader.problems] == [2, 3, 6]
    assert not any(p.truncated for p in reader.problems)


def test_raw_line_is_kept_unchanged_for_piping(tmp_path: Path) -> None:
    report = tmp_path / "r.jsonl"
    text = '{"row": 1, "path": "x.png", "status": "complete", "future": 1}'
    report.write_text(text + "\r\n", encoding="utf-8")
    (loaded,) = list(open_report(report))
    assert loaded.raw == text


def test_missing_report_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ReportUnreadable, match="not found"):
        open_report(tmp_path / "nope.jsonl")


def test_a_folder_is_not_a_report(tmp_path: Path) -> None:
    with pytest.raises(ReportUnreadable, match="not a file"):
        open_report(tmp_path)
