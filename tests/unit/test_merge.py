"""batcher merge: every row once, in row order; overlaps and provable gaps refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batcher.cli.main import main
from batcher.scale.merge import MergeRefused, merge


def _line(row: int, status: str = "complete", path: str | None = None) -> str:
    body = {"row": row, "path": path or f"f{row}.png", "status": status}
    if status != "complete":
        body["error"] = {"stage": "upload", "code": "x", "message": "m"}
    return json.dumps(body)


def _report(tmp_path: Path, name: str, rows: list[int], **kw: str) -> Path:
    path = tmp_path / name
    path.write_text("".join(_line(r, **kw) + "\n" for r in rows))
    return path


def _manifest(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "m.csv"
    path.write_text("path\n" + "".join(f"f{i}.png\n" for i in range(1, n + 1)))
    return path


def test_shard_reports_merge_in_row_order(tmp_path: Path) -> None:
    a = _report(tmp_path, "a.jsonl", [4, 1, 3])
    b = _report(tmp_path, "b.jsonl", [5, 2])
    out = tmp_path / "all.jsonl"
    summary = merge([a, b], out)
    rows = [json.loads(x)["row"] for x in out.read_text().splitlines()]
    assert rows == [1, 2, 3, 4, 5]
    assert summary.rows == 5
    assert out.read_text().splitlines()[0] == _line(1)  # copied as written


def test_a_row_in_two_reports_is_refused(tmp_path: Path) -> None:
    a = _report(tmp_path, "a.jsonl", [1, 2, 3])
    b = _report(tmp_path, "b.jsonl", [3, 4])
    with pytest.raises(MergeRefused, match=r"1 rows are in more than one report \(rows 3;"):
        merge([a, b], tmp_path / "all.jsonl")
    assert not (tmp_path / "all.jsonl").exists()


def test_the_same_report_twice_is_an_overlap(tmp_path: Path) -> None:
    a = _report(tmp_path, "a.jsonl", [1, 2])
    with pytest.raises(MergeRefused, match="more than one report"):
        merge([a, a], tmp_path / "all.jsonl")


def test_a_hole_below_the_last_row_is_a_gap(tmp_path: Path) -> None:
    a = _report(tmp_path, "a.jsonl", [1, 4])
    b = _report(tmp_path, "b.jsonl", [2, 6])
    with pytest.raises(MergeRefused, match=r"2 of 6 rows are in no report \(rows 3, 5\)"):
        merge([a, b], tmp_path / "all.jsonl")


def test_with_the_manifest_missing_last_rows_and_foreign_rows_are_found(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, 5)
    a = _report(tmp_path, "a.jsonl", [1, 2, 3])
    with pytest.raises(MergeRefused, match=r"2 of 5 rows are in no report \(rows 4, 5\)"):
        merge([a], tmp_path / "all.jsonl", manifest)
    b = _report(tmp_path, "b.jsonl", [4, 5, 6])
    with pytest.raises(MergeRefused, match="past its end"):
        merge([a, b], tmp_path / "all.jsonl", manifest)
    c = tmp_path / "c.jsonl"
    c.write_text(_line(4) + "\n" + _line(5, path="other.png") + "\n")
    with pytest.raises(MergeRefused, match=r"its row 5 is 'f5\.png', the report's is 'other\.png'"):
        merge([a, c], tmp_path / "all.jsonl", manifest)
    assert not (tmp_path / "all.jsonl").exists()
    assert not (tmp_path / "all.jsonl.merging").exists()


def test_a_line_cut_short_leaves_its_row_missing(tmp_path: Path) -> None:
    a = _report(tmp_path, "a.jsonl", [1, 2])
    b = tmp_path / "b.jsonl"
    b.write_text(_line(3) + "\n" + _line(4)[:10])  # the run died mid-write
    with pytest.raises(MergeRefused, match=r"rows 4; 1 unreadable lines"):
        merge([a, b], tmp_path / "all.jsonl", _manifest(tmp_path, 4))


def test_the_command_exits_with_the_whole_runs_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _report(tmp_path, "a.jsonl", [1, 3])
    b = _report(tmp_path, "b.jsonl", [2])
    out = tmp_path / "all.jsonl"
    assert main(["merge", str(a), str(b), "-o", str(out)]) == 0
    assert "merged 2 reports" in capsys.readouterr().err
    c = _report(tmp_path, "c.jsonl", [2], status="failed")
    summary = tmp_path / "s.json"
    assert main(["merge", str(a), str(c), "-o", str(out), "--summary-json", str(summary)]) == 1
    assert json.loads(summary.read_text())["status"]["failed"] == 1
    assert main(["merge", str(a), "-o", str(out)]) == 2  # row 2 missing
    assert "Error: 1 of 3 rows are in no report" in capsys.readouterr().err
    assert main(["merge", str(a), "-o", str(a)]) == 2
