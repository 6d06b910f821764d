from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from batcher.cli.report_cmd import build_parser, main
from batcher.outcome import ErrorInfo, ReportLine

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>.png'


def _issue(rule: str, severity: str, summary: str = "A claim") -> dict[str, Any]:
    return {
        "ruleCode": rule,
        "severity": severity,
        "summary": summary,
        "severityReasoningHeadline": "Because",
    }


def _write(tmp_path: Path, *, tail: str = "") -> Path:
    lines = [
        ReportLine(
            row=1,
            path="media/a.png",
            bytes=10,
            upload_method="direct",
            status="complete",
            issue_count=1,
            issues=[_issue("CAP_8.4", "CRITICAL")],
        ),
        ReportLine(
            row=2,
            path=EVIL,
            bytes=20,
            upload_method="direct",
            status="complete",
            issue_count=1,
            issues=[_issue("CAP_3.1", "MINOR", "</script><script>alert(2)</script>")],
            columns={"campaign": "<b>spring</b>"},
        ),
        ReportLine(
            row=3,
            path="/abs/gone.png",
            status="error",
            error=ErrorInfo(stage="preflight", code="file_not_found", message="<i>gone</i>"),
        ),
    ]
    report = tmp_path / "run.report.jsonl"
    report.write_text("".join(x.to_json() + "\n" for x in lines) + tail, encoding="utf-8")
    return report


def test_text_summary_is_the_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(_write(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "complete" in out
    assert "CAP_8.4" in out


def test_json_output_is_one_clean_json_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _write(tmp_path, tail='{"row": 4, "pa')  # a crash left half a line
    html = tmp_path / "out.html"
    assert main([str(report), "--json", "--html", str(html)]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["rows"] == 3
    assert data["status"] == {"complete": 2, "failed": 0, "error": 1}
    assert data["unreadableLines"] == 1
    assert "1 unreadable line" in captured.err
    assert "wrote" in captured.err


def test_lines_prints_only_the_matching_report_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(_write(tmp_path)), "--lines", "--severity", "critical"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [json.loads(x)["row"] for x in out] == [1]


def test_status_and_rule_filters_apply_to_the_json_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = str(_write(tmp_path))
    assert main([report, "--json", "--status", "error"]) == 0
    assert json.loads(capsys.readouterr().out)["errorCodes"] == {"file_not_found": 1}
    assert main([report, "--json", "--rule", "CAP_3.1", "--rule", "CAP_8.4"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 2


def test_missing_report_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.jsonl")]) == 2
    assert capsys.readouterr().err.startswith("Error: report not found")


def test_a_file_with_no_report_line_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello\nworld\n", encoding="utf-8")
    assert main([str(bogus), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "not a batcher report" in captured.err


def test_an_empty_report_is_an_empty_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "r.jsonl"
    empty.write_text("", encoding="utf-8")
    assert main([str(empty), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 0


def test_an_unknown_severity_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["r.jsonl", "--severity", "CRITCAL"])
    assert exc.value.code == 2


def test_html_escapes_every_value_from_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "out.html"
    assert main([str(_write(tmp_path)), "--html", str(html)]) == 0
    page = html.read_text(encoding="utf-8")
    # Only our two script elements: the JSON data block and the page script.
    assert len(re.findall(r"<script", page, flags=re.IGNORECASE)) == 2
    assert len(re.findall(r"</script", page, flags=re.IGNORECASE)) == 2
    assert "<img" not in page
    assert "<b>spring" not in page and "<i>gone" not in page
    data_block = page.split('id="report-data">', 1)[1].split("</script>", 1)[0]
    data = json.loads(data_block)
    paths = [row["p"] for row in data["rows"]]
    assert EVIL in paths  # escaped for HTML, intact for the script


def _uris(html: Path) -> dict[int, str]:
    page = html.read_text(encoding="utf-8")
    data = json.loads(page.split('id="report-data">', 1)[1].split("</script>", 1)[0])
    return {row["r"]: row["u"] for row in data["rows"]}


def test_html_links_are_relative_to_the_page_so_a_mailed_folder_still_opens(
    tmp_path: Path,
) -> None:
    report = _write(tmp_path)
    uris = _uris_of(report, tmp_path / "out.html")
    assert uris[1] == "./media/a.png"  # relative in the report: relative on the page
    assert uris[3] == "file:///abs/gone.png"  # absolute elsewhere: this machine only
    assert uris[2].startswith("./%3Cscript%3E") and "<" not in uris[2]
    # A page made in another folder links back up to the media.
    assert _uris_of(report, tmp_path / "pages" / "out.html")[1] == "../media/a.png"


def _uris_of(report: Path, html: Path) -> dict[int, str]:
    html.parent.mkdir(exist_ok=True)
    assert main([str(report), "--html", str(html)]) == 0
    return _uris(html)


def test_html_is_self_contained(tmp_path: Path) -> None:
    html = tmp_path / "out.html"
    assert main([str(_write(tmp_path)), "--html", str(html)]) == 0
    page = html.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
