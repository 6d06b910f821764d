from __future__ import annotations

from pathlib import Path
from typing import Any

from batcher.outcome import ErrorInfo, ReportLine
from batcher.reporting.filters import ReportFilter
from batcher.reporting.load import open_report
from batcher.reporting.summary import ReportSummary, SummaryBuilder, human_bytes


def _issue(rule: str, severity: str, summary: str = "") -> dict[str, Any]:
    return {"ruleCode": rule, "severity": severity, "summary": summary or f"about {rule}"}


LINES = [
    ReportLine(
        row=1,
        path="a.png",
        bytes=1_000,
        upload_method="direct",
        status="complete",
        issue_count=2,
        issues=[
            _issue("CAP_8.4", "CRITICAL", "Unsubstantiated pricing claim"),
            _issue("CAP_3.1", "MINOR"),
        ],
    ),
    ReportLine(
        row=2,
        path="b.mp4",
        bytes=20_000_000,
        upload_method="presigned",
        status="complete",
        issue_count=1,
        issues=[_issue("CAP_8.4", "MAJOR")],
    ),
    ReportLine(
        row=3, path="c.pdf", bytes=500, upload_method="direct", status="complete", issue_count=0
    ),
    ReportLine(
        row=4,
        path="d.png",
        bytes=2_000,
        upload_method="direct",
        status="failed",
        error=ErrorInfo(stage="result", code="ContentProcessingError", message="damaged"),
    ),
    ReportLine(
        row=5,
        path="gone.png",
        status="error",
        error=ErrorInfo(stage="preflight", code="file_not_found", message="file not found"),
    ),
    ReportLine(
        row=6,
        path="e.png",
        bytes=3_000,
        upload_method="direct",
        status="complete",
        issue_count=1,
        issues=[_issue("CAP_12.1", "INFO")],
    ),
]


def _summary(tmp_path: Path, filters: ReportFilter | None = None, top: int = 10) -> ReportSummary:
    report = tmp_path / "r.jsonl"
    report.write_text("".join(line.to_json() + "\n" for line in LINES), encoding="utf-8")
    filters = filters or ReportFilter()
    builder = SummaryBuilder(top=top)
    for loaded in open_report(report):
        if filters.matches(loaded.line):
            builder.add(loaded.line)
    return builder.build(report, filters)


def _rows(tmp_path: Path, **kw: list[str]) -> list[int]:
    filters = ReportFilter.of(kw.get("status", []), kw.get("severity", []), kw.get("rule", []))
    report = tmp_path / "r.jsonl"
    report.write_text("".join(line.to_json() + "\n" for line in LINES), encoding="utf-8")
    return [x.line.row for x in open_report(report) if filters.matches(x.line)]


def test_outcomes_are_counted_by_status(tmp_path: Path) -> None:
    s = _summary(tmp_path)
    assert s.rows == 6
    assert s.by_status == {"complete": 4, "failed": 1, "error": 1}


def test_findings_are_counted_by_severity_in_fixed_order(tmp_path: Path) -> None:
    s = _summary(tmp_path)
    assert list(s.findings_by_severity.items()) == [
        ("CRITICAL", 1),
        ("MAJOR", 1),
        ("MINOR", 1),
        ("INFO", 1),
    ]
    assert s.findings == 4
    assert s.rows_with_findings == 3


def test_top_rules_are_most_frequent_first_with_their_summary(tmp_path: Path) -> None:
    s = _summary(tmp_path)
    assert s.top_rules[0] == ("CAP_8.4", 2, "Unsubstantiated pricing claim")
    assert [r for r, _, _ in s.top_rules] == ["CAP_8.4", "CAP_12.1", "CAP_3.1"]
    assert s.distinct_rules == 3
    assert len(_summary(tmp_path, top=1).top_rules) == 1


def test_error_codes_bytes_and_upload_methods(tmp_path: Path) -> None:
    s = _summary(tmp_path)
    assert s.error_codes == {"ContentProcessingError": 1, "file_not_found": 1}
    assert s.bytes_total == 20_006_500
    assert s.by_method == {
        "direct": (4, 6_500),
        "presigned": (1, 20_000_000),
        "not sent": (1, 0),
    }


def test_text_rendering_names_every_section(tmp_path: Path) -> None:
    text = _summary(tmp_path).render_text()
    for needle in (
        "complete",
        "CRITICAL",
        "CAP_8.4",
        "Unsubstantiated pricing claim",
        "file_not_found",
        "presigned",
        "20.0 MB",
    ):
        assert needle in text


def test_status_filter_keeps_only_those_statuses(tmp_path: Path) -> None:
    assert _rows(tmp_path, status=["failed"]) == [4]
    assert _rows(tmp_path, status=["failed", "error"]) == [4, 5]


def test_severity_filter_keeps_rows_with_a_finding_of_that_severity(tmp_path: Path) -> None:
    assert _rows(tmp_path, severity=["CRITICAL"]) == [1]
    assert _rows(tmp_path, severity=["critical", "major"]) == [1, 2]


def test_rule_filter_matches_whole_codes_case_insensitively(tmp_path: Path) -> None:
    assert _rows(tmp_path, rule=["CAP_8.4"]) == [1, 2]
    assert _rows(tmp_path, rule=["cap_12.1"]) == [6]
    assert _rows(tmp_path, rule=["CAP_8"]) == []


def test_different_filters_must_all_match(tmp_path: Path) -> None:
    assert _rows(tmp_path, rule=["CAP_8.4"], severity=["MAJOR"]) == [2]
    assert _rows(tmp_path, rule=["CAP_8.4"], status=["failed"]) == []


def test_summary_of_filtered_rows_counts_only_them(tmp_path: Path) -> None:
    s = _summary(tmp_path, ReportFilter.of(severities=["CRITICAL"]))
    assert s.rows == 1
    assert s.findings == 2  # every finding of the matching row, not only the CRITICAL one
    assert s.as_dict()["filters"] == {"status": [], "severity": ["CRITICAL"], "rule": []}


def test_human_bytes_uses_decimal_units() -> None:
    assert human_bytes(999) == "999 B"
    assert human_bytes(1_500) == "1.5 kB"
    assert human_bytes(36_910_045) == "36.9 MB"
    assert human_bytes(5_000_000_000) == "5.0 GB"
