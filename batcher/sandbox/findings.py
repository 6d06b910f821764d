"""Deterministic compliance findings: the same bytes always give the same issues, whatever
name they were uploaded under (a reviewer judges the content; clients rename blobs to keep
them unique, and a re-run must find what the last run found).

``findings_for`` is pure and public so tests can predict every line of a report from the
files they upload: hash the file, call it, compare.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

# (ruleCode, summary, headline) — CAP code sections, the style of the docs' "CAP_8.4" example.
RULES: tuple[tuple[str, str, str], ...] = (
    ("CAP_3.1", "Misleading claim about product performance", "Claim likely to mislead"),
    ("CAP_3.7", "Objective claim lacks documentary evidence", "Evidence not held"),
    ("CAP_3.9", "Qualification contradicts the headline claim", "Qualification too weak"),
    ("CAP_3.17", "Price statement omits compulsory charges", "Hidden charges"),
    ("CAP_3.22", "Free offer carries undisclosed conditions", "Misleading 'free'"),
    ("CAP_3.33", "Comparison with competitors not verifiable", "Unverifiable comparison"),
    ("CAP_4.1", "Content likely to cause serious offence", "Offence risk"),
    ("CAP_5.1", "Content unsuitable for audiences under 16", "Child audience risk"),
    ("CAP_8.4", "Unsubstantiated pricing claim", "Pricing claim unsupported"),
    ("CAP_12.1", "Unsupported health claim", "Health claim needs evidence"),
    ("CAP_13.1", "Weight-control claim without qualification", "Weight-control claim"),
    ("CAP_15.1", "Nutrition claim not on the authorised list", "Unauthorised nutrition claim"),
)
SEVERITIES: tuple[str, ...] = ("CRITICAL", "MAJOR", "MINOR", "INFO")
DECISIONS: tuple[str, ...] = ("Upheld", "Not upheld", "Informally resolved")
MAX_ISSUES = 4
# A fixed base time keeps createdAt reproducible; the digest spreads issues over a year.
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _stream(data_sha256: bytes) -> bytes:
    """Enough pseudo-random bytes for every choice, derived from the content."""
    seed = data_sha256
    return b"".join(hashlib.sha256(seed + bytes([i])).digest() for i in range(4))


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def findings_for(data_sha256: bytes) -> list[dict[str, Any]]:
    """The issues the sandbox reports for a file whose SHA-256 digest is ``data_sha256``
    (raw 32 bytes): 0-4 issues, each in the IssueResponse shape."""
    rnd = _stream(data_sha256)
    count = rnd[0] % (MAX_ISSUES + 1)
    sidekick = str(uuid.UUID(bytes=rnd[1:17], version=4))
    created = _EPOCH + timedelta(seconds=int.from_bytes(rnd[17:21], "big") % (365 * 86400))
    issues: list[dict[str, Any]] = []
    for n in range(count):
        base = 24 + n * 24
        rule_code, summary, headline = RULES[rnd[base] % len(RULES)]
        severity = SEVERITIES[rnd[base + 1] % len(SEVERITIES)]
        decision = DECISIONS[rnd[base + 2] % len(DECISIONS)]
        year = 2018 + rnd[base + 3] % 7
        issues.append(
            {
                "id": str(uuid.UUID(bytes=rnd[base + 4 : base + 20], version=4)),
                "referenceNumber": n + 1,
                "ruleCode": rule_code,
                "summary": summary,
                "severity": severity,
                "status": "OPEN",
                "sidekickId": sidekick,
                "createdAt": _iso(created),
                "updatedAt": _iso(created),
                "severityReasoning": (
                    f"{summary} under {rule_code.replace('_', ' ')}; rated {severity} "
                    "from the reach and specificity of the claim."
                ),
                "severityReasoningHeadline": headline,
                "precedents": [
                    {
                        "url": f"https://www.asa.org.uk/rulings/sandbox-{rnd[base + 20]:03d}.html",
                        "title": f"ASA ruling on {headline.lower()}",
                        "decision": decision,
                        "date": f"{year}-01-01",
                    }
                ],
            }
        )
    return issues
