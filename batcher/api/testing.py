"""A scriptable, in-memory MediaMagic service implementing ``ApiTransport``, for tests.

The real ``MediaMagicClient`` (gates, retries, status mapping, validation) runs over it with
no sockets, and time is the injected clock's, so a 30 s ``Retry-After`` or a 1 h deadline
takes no real time under ``FakeClock.autojump()``. It behaves like the service where batcher
depends on it: E1/E2 issue ``<workspace>/<filename>`` blob paths, E4 refuses unknown paths
(403) and paths already submitted (409), processing takes ``processing_seconds`` of the
clock, content with ``MM-BROKEN`` fails for good and ``MM-FLAKY`` fails its first attempt
retryably, E9 restarts a failed asset. Presigned uploads land in ``self.blob``, a
``FakeBlobService`` (pass it as the run's blob transport).

Scripting, per endpoint name (``upload_url``, ``direct_upload``, ``create_submission``,
``get_submission``, ``get_asset``, ``retry_asset``), consumed in order::

    fake.script("create_submission", DropAfter())            # handled, answer lost
    fake.script("get_submission", Answer(429, {"error": "slow down"}, retry_after=30))
    fake.script("create_submission", Mutate(duplicate_first_asset_id))  # a hostile answer
    fake.script("get_asset", Delay(5.0))                     # a slow answer (clock time)

plus service-wide conditions: ``rate_limit(bucket, rate, retry_after=...)`` (a token bucket
on the clock, answering 429; requests that come back inside a ``Retry-After`` window are
recorded in ``violations``) and ``outage(start, end)`` (connections refused meanwhile).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from batcher.api.client import BUCKET_OF
from batcher.api.transport import ApiRequest, ApiResponse
from batcher.blob.testing import FakeBlobService
from batcher.clock import Clock
from batcher.errors import TransportError

WORKSPACE = "660e8400-e29b-41d4-a716-446655440000"
BLOB_HOST = "https://blob.fake/assets"


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
class _Asset:
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
class _Submission:
    submission_id: str
    created_at: float
    assets: list[_Asset]
    previous: list[str | None]


@dataclass
class _RateLimit:
    rate: float
    burst: float
    retry_after: float
    tokens: float
    updated: float
    closed_until: float = 0.0


@dataclass
class Violation:
    """A request that came before the ``Retry-After`` its bucket was given had passed."""

    bucket: str
    at: float
    early_by: float


class FakeMediaMagic:
    def __init__(self, clock: Clock, *, processing_seconds: float = 2.0) -> None:
        self.clock = clock
        self.processing_seconds = processing_seconds
        self.blob = FakeBlobService()
        self.calls: list[FakeCall] = []
        self.requests: Counter[str] = Counter()
        """Requests that reached the service, per endpoint."""
        self.rate_limited: Counter[str] = Counter()
        self.violations: list[Violation] = []
        self.submissions: dict[str, _Submission] = {}
        self.keys_seen: set[str] = set()
        self._uploads: dict[str, tuple[str, bytes | None]] = {}
        self._submitted: set[str] = set()
        self._steps: dict[str, list[Step]] = {}
        self._limits: dict[str, _RateLimit] = {}
        self._outages: list[tuple[float, float]] = []

    # -- scripting -------------------------------------------------------------------------

    def script(self, endpoint: str, *steps: Step) -> None:
        self._steps.setdefault(endpoint, []).extend(steps)

    def rate_limit(
        self, bucket: str, rate: float | None, *, burst: float = 1.0, retry_after: float = 5.0
    ) -> None:
        """Limit ``bucket`` to ``rate`` requests/s (None: no limit); may change mid-run."""
        if rate is None:
            self._limits.pop(bucket, None)
            return
        now = self.clock.now()
        old = self._limits.get(bucket)
        self._limits[bucket] = _RateLimit(
            rate, burst, retry_after, burst, now, old.closed_until if old else 0.0
        )

    def outage(self, start: float, end: float) -> None:
        """Refuse every connection between these clock times."""
        self._outages.append((start, end))

    def submitted_assets(self) -> list[_Asset]:
        return [a for s in self.submissions.values() for a in s.assets]

    # -- ApiTransport ----------------------------------------------------------------------

    async def send(self, request: ApiRequest, *, key: SecretStr) -> ApiResponse:
        now = self.clock.now()
        bucket = BUCKET_OF[request.endpoint]
        if any(start <= now < end for start, end in self._outages):
            self.calls.append(FakeCall(now, request.endpoint, bucket, None))
            raise TransportError(
                f"{request.method} {request.path}: cannot connect", ambiguous=False
            )
        self.keys_seen.add(key.get_secret_value())
        self.requests[request.endpoint] += 1
        steps = self._steps.get(request.endpoint)
        step = steps.pop(0) if steps else None
        if isinstance(step, DropBefore):
            self.calls.append(FakeCall(now, request.endpoint, bucket, None))
            raise TransportError(
                f"{request.method} {request.path}: cannot connect", ambiguous=False
            )
        if isinstance(step, Delay):
            await self.clock.sleep(step.seconds)
        limited = self._throttle(bucket)
        if limited is not None:
            response = limited
        elif isinstance(step, Answer):
            response = _json(step.status, step.body, step.retry_after)
        else:
            response = self._handle(request)
            if isinstance(step, Mutate) and response.status < 300:
                body = step.fn(json.loads(response.text))
                response = ApiResponse(response.status, response.headers, json.dumps(body))
        if isinstance(step, DropAfter):
            self.calls.append(FakeCall(now, request.endpoint, bucket, None))
            raise TransportError(f"{request.method} {request.path}: connection lost")
        self.calls.append(FakeCall(now, request.endpoint, bucket, response.status))
        return response

    def _throttle(self, bucket: str) -> ApiResponse | None:
        limit = self._limits.get(bucket)
        if limit is None:
            return None
        now = self.clock.now()
        if now < limit.closed_until:
            self.violations.append(Violation(bucket, now, limit.closed_until - now))
        limit.tokens = min(limit.burst, limit.tokens + (now - limit.updated) * limit.rate)
        limit.updated = now
        if limit.tokens >= 1.0:
            limit.tokens -= 1.0
            return None
        limit.closed_until = max(limit.closed_until, now + limit.retry_after)
        self.rate_limited[bucket] += 1
        return _json(429, {"error": f"Rate limit exceeded: {bucket}"}, limit.retry_after)

    # -- the service -----------------------------------------------------------------------

    def _handle(self, request: ApiRequest) -> ApiResponse:
        parts = request.path.strip("/").split("/")
        endpoint = request.endpoint
        if endpoint == "upload_url":
            name = str(request.json["filename"])
            blob_path = f"{WORKSPACE}/{name}"
            self._uploads[blob_path] = (str(request.json["contentType"]), None)
            expires = datetime.fromtimestamp(self.clock.wall() + 3600, UTC)
            return _json(
                200,
                {
                    "uploadUrl": f"{BLOB_HOST}/{quote(blob_path)}?sv=2025-11-05&sp=cw&sig=fakesig",
                    "blobPath": blob_path,
                    "expiresAt": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            )
        if endpoint == "direct_upload":
            assert request.upload is not None
            blob_path = f"{WORKSPACE}/{request.upload.filename}"
            self._uploads[blob_path] = (request.upload.content_type, request.upload.read())
            return _json(201, {"blobPath": blob_path})
        if endpoint == "create_submission":
            return self._create(request)
        submission = self.submissions.get(parts[1])
        if submission is None:
            return _json(404, {"detail": "Submission not found"})
        if endpoint == "get_submission":
            return _json(200, self._status(submission))
        asset = next((a for a in submission.assets if a.asset_id == parts[3]), None)
        if asset is None:
            return _json(404, {"detail": "Asset not found"})
        if endpoint == "get_asset":
            return _json(200, self._asset_body(submission, asset))
        return self._retry(submission, asset)

    def _content(self, blob_path: str) -> bytes | None:
        _, data = self._uploads[blob_path]
        if data is not None:
            return data
        blob = self.blob.blobs.get("/assets/" + blob_path)
        return None if blob is None else blob.data

    def _create(self, request: ApiRequest) -> ApiResponse:
        wanted = request.json["assets"]
        assets: list[_Asset] = []
        previous: list[str | None] = []
        for item in wanted:
            path = item["blobPath"]
            if path not in self._uploads or self._content(path) is None:
                return _json(403, {"detail": "Invalid blob path"})
            if path in self._submitted or any(a.blob_path == path for a in assets):
                return _json(409, {"detail": "Asset already submitted"})
            prev_id = item.get("previousSubmissionId")
            group, number = str(uuid.uuid4()), 1
            if prev_id is not None:
                prev = self.submissions.get(prev_id)
                if prev is None:
                    return _json(404, {"detail": "Previous submission not found"})
                group, number = prev.assets[0].version_group_id, prev.assets[0].version_number + 1
            content = self._content(path) or b""
            assets.append(_Asset(str(uuid.uuid4()), path, group, number, content))
            previous.append(prev_id)
        now = self.clock.now()
        submission = _Submission(str(uuid.uuid4()), now, assets, previous)
        for asset in assets:
            asset.attempts.append(now)
            self._submitted.add(asset.blob_path)
        self.submissions[submission.submission_id] = submission
        return _json(201, _created(submission, "submitted"))

    def _view(self, asset: _Asset) -> tuple[str, int, str]:
        """(status, progress, outcome) of the asset's latest attempt, now."""
        started = asset.attempts[-1]
        elapsed = self.clock.now() - started
        if elapsed < self.processing_seconds:
            progress = (
                int(100 * elapsed / self.processing_seconds) if self.processing_seconds else 0
            )
            return "processing", progress, "ok"
        outcome = asset.outcome(len(asset.attempts) - 1)
        return ("complete" if outcome == "ok" else "failed"), 100, outcome

    def _status(self, sub: _Submission) -> dict[str, Any]:
        views = [self._view(a) for a in sub.assets]
        states = {v[0] for v in views}
        status = (
            "processing"
            if "processing" in states
            else "failed"
            if "failed" in states
            else "complete"
        )
        items = []
        for asset, (state, _, outcome) in zip(sub.assets, views, strict=True):
            failed = state == "failed"
            items.append(
                {
                    "assetId": asset.asset_id,
                    "versionGroupId": asset.version_group_id,
                    "versionNumber": asset.version_number,
                    "issueCount": len(_issues(asset)) if state == "complete" else None,
                    "errorMessage": "processing failed" if failed else None,
                    "errorType": ("transient_error" if outcome == "flaky" else "corrupt_media")
                    if failed
                    else None,
                    "isRetryable": failed and outcome == "flaky",
                    "retryCount": len(asset.attempts) - 1,
                }
            )
        return {
            "submissionId": sub.submission_id,
            "workspaceId": WORKSPACE,
            "status": status,
            "progressPercent": sum(v[1] for v in views) // len(views),
            "createdAt": "2026-06-03T12:00:00Z",
            "errorMessage": None,
            "assets": items,
            "isRetryable": any(i["isRetryable"] for i in items),
        }

    def _asset_body(self, sub: _Submission, asset: _Asset) -> dict[str, Any]:
        state, _, _ = self._view(asset)
        done = state == "complete"
        return {
            "assetId": asset.asset_id,
            "submissionId": sub.submission_id,
            "status": state,
            "issueCount": len(_issues(asset)) if done else None,
            "versionNumber": asset.version_number,
            "versionGroupId": asset.version_group_id,
            "issues": _issues(asset) if done else [],
        }

    def _retry(self, sub: _Submission, asset: _Asset) -> ApiResponse:
        state, _, outcome = self._view(asset)
        if state != "failed" or outcome != "flaky":
            return _json(409, {"detail": "Asset is not in a retryable failed state"})
        asset.attempts.append(self.clock.now())
        return _json(202, _created(sub, "processing"))


def _issues(asset: _Asset) -> list[dict[str, Any]]:
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


def _created(sub: _Submission, status: str) -> dict[str, Any]:
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


def _json(status: int, body: Any, retry_after: float | None = None) -> ApiResponse:
    headers = {"Content-Type": "application/json"}
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    return ApiResponse(status, headers, json.dumps(body))
