"""The fake service's scripting steps, its records (submissions, assets, rate limits,
calls) and how it words its answers; the service itself is ``api/testing.FakeMediaMagic``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batcher.api.transport import ApiResponse


@dataclass(frozen=True)
class Answer:
    """Answer this instead of the real handling."""

    status: int
    body: Any = None
    retry_after: float | None = None


@dataclass(frozen=True)
class DropAfter:
    """Handle the request, then lose the answer (the connection drops after sending)."""


@dataclass(frozen=True)
class DropBefore:
    """Refuse the connection: the request never reached the service."""


@dataclass(frozen=True)
class Delay:
    """Answer normally after ``seconds`` of the clock."""

    seconds: float


@dataclass(frozen=True)
class Mutate:
    """Handle normally, then pass the JSON answer through ``fn`` (hostile answers)."""

    fn: Callable[[Any], Any]


Step = Answer | DropAfter | DropBefore | Delay | Mutate


@dataclass
class FakeCall:
    at: float
    endpoint: str
    bucket: str
    status: int | None
    """None when the connection dropped."""


@dataclass
class FakeAsset:
    asset_id: str
    blob_path: str
    version_group_id: str
    version_number: int
    content: bytes
    attempts: list[float] = field(default_factory=list)
    """Start time of each processing attempt."""

    def outcome(self, attempt: int) -> str:
        if b"MM-BROKEN" in self.content:
            return "broken"
        if b"MM-FLAKY" in self.content and attempt == 0:
            return "flaky"
        return "ok"


@dataclass
class FakeSubmission:
    submission_id: str
    created_at: float
    assets: list[FakeAsset]
    previous: list[str | None]


@dataclass
class FakeRateLimit:
    rate: float
    burst: float
    retry_after: float
    tokens: float
    updated: float
    closed_until: float = 0.0
    limited_at: float = 0.0
    """The first 429 of the current window: when the client learned of it."""

    def take(self, now: float) -> bool:
        """One token, or False: then the window opens (or is pushed out) from ``now``."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        if now >= self.closed_until:
            self.limited_at = now
        self.closed_until = max(self.closed_until, now + self.retry_after)
        return False


@dataclass
class Violation:
    """A request that came before the ``Retry-After`` its bucket was given had passed."""

    bucket: str
    at: float
    early_by: float


def issues_of(asset: FakeAsset) -> list[dict[str, Any]]:
    """Deterministic findings from the bytes: 0-2 issues."""
    digest = hashlib.sha256(asset.content).digest()
    return [
        {
            "id": f"i{n}-{digest[:4].hex()}",
            "referenceNumber": n + 1,
            "ruleCode": f"CAP_{digest[n] % 20}.{digest[n + 1] % 9}",
            "summary": "Fake finding",
            "severity": ("CRITICAL", "MAJOR", "MINOR", "INFO")[digest[n] % 4],
            "status": "OPEN",
        }
        for n in range(digest[0] % 3)
    ]


def created_body(sub: FakeSubmission, status: str) -> dict[str, Any]:
    return {
        "submissionId": sub.submission_id,
        "workflowId": f"asset-processing-{sub.submission_id[:8]}",
        "ablyChannel": f"submission:{sub.submission_id}",
        "status": status,
        "assets": [
            {
                "assetId": a.asset_id,
                "versionGroupId": a.version_group_id,
                "versionNumber": a.version_number,
            }
            for a in sub.assets
        ],
    }


def json_answer(status: int, body: Any, retry_after: float | None = None) -> ApiResponse:
    headers = {"Content-Type": "application/json"}
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    return ApiResponse(status, headers, json.dumps(body))
