"""findings_for: deterministic, documented shape, spread over the rule table."""

from __future__ import annotations

import hashlib
import re

from batcher.sandbox.findings import MAX_ISSUES, RULES, SEVERITIES, findings_for

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _digest(n: int) -> bytes:
    return hashlib.sha256(str(n).encode()).digest()


def test_same_bytes_give_the_same_findings() -> None:
    assert findings_for(_digest(1)) == findings_for(_digest(1))


def test_different_bytes_give_different_findings() -> None:
    results = {str(findings_for(_digest(i))) for i in range(20)}
    assert len(results) > 1


def test_issue_count_covers_zero_to_four() -> None:
    counts = {len(findings_for(_digest(i))) for i in range(200)}
    assert counts == set(range(MAX_ISSUES + 1))


def test_issues_have_the_documented_fields() -> None:
    issues = [i for n in range(50) for i in findings_for(_digest(n))]
    codes = {code for code, _, _ in RULES}
    for number, issue in enumerate(issues):
        assert set(issue) == {
            "id",
            "referenceNumber",
            "ruleCode",
            "summary",
            "severity",
            "status",
            "sidekickId",
            "createdAt",
            "updatedAt",
            "severityReasoning",
            "severityReasoningHeadline",
            "precedents",
        }, number
        assert issue["ruleCode"] in codes
        assert issue["severity"] in SEVERITIES
        assert issue["status"] == "OPEN"
        assert ISO.fullmatch(issue["createdAt"])
        for precedent in issue["precedents"]:
            assert set(precedent) == {"url", "title", "decision", "date"}
    assert {i["severity"] for i in issues} == set(SEVERITIES)


def test_reference_numbers_count_from_one() -> None:
    for n in range(30):
        issues = findings_for(_digest(n))
        assert [i["referenceNumber"] for i in issues] == list(range(1, len(issues) + 1))
