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

import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from batcher.api.client import BUCKET_OF
from batcher.api.fake_records import Answer as Answer
from batcher.api.fake_records import Delay as Delay
from batcher.api.fake_records import DropAfter as DropAfter
from batcher.api.fake_records import DropBefore as DropBefore
from batcher.api.fake_records import (
    FakeAsset,
    FakeCall,
    FakeRateLimit,
    FakeSubmission,
    Violation,
    created_body,
    issues_of,
    json_answer,
)
from batcher.api.fake_records import Mutate as Mutate
from batcher.api.fake_records import Step as Step
from batcher.api.transport import ApiRequest, ApiResponse
from batcher.blob.testing import FakeBlobService
from batcher.clock import Clock
from batcher.errors import TransportError

WORKSPACE = "660e8400-e29b-41d4-a716-446655440000"
BLOB_HOST = "https://blob.fake/assets"


class FakeMediaMagic:
    def __init__(
        self, clock: Clock, *, processing_seconds: float = 2.0, latency: float = 0.0
    ) -> None:
        self.clock = clock
        self.processing_seconds = processing_seconds
        self.latency = latency
        """Clock seconds every request takes before the service sees it."""
        self.blob = FakeBlobService()
        self.calls: list[FakeCall] = []
        self.requests: Counter[str] = Counter()
        """Requests that reached the service, per endpoint."""
        self.rate_limited: Counter[str] = Counter()
        self.violations: list[Violation] = []
        self.submissions: dict[str, FakeSubmission] = {}
        self.keys_seen: set[str] = set()
        self._uploads: dict[str, tuple[str, bytes | None]] = {}
        self._submitted: set[str] = set()
        self._steps: dict[str, list[Step]] = {}
        self._limits: dict[str, FakeRateLimit] = {}
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
        self._limits[bucket] = FakeRateLimit(
            rate, burst, retry_after, burst, now, old.closed_until if old else 0.0
        )

    def outage(self, start: float, end: float) -> None:
        """Refuse every connection between these clock times."""
        self._outages.append((start, end))

    def submitted_assets(self) -> list[FakeAsset]:
        return [a for s in self.submissions.values() for a in s.assets]

    # -- ApiTransport ----------------------------------------------------------------------

    async def send(self, request: ApiRequest, *, key: SecretStr) -> ApiResponse:
        if self.latency:
            await self.clock.sleep(self.latency)
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
            response = json_answer(step.status, step.body, step.retry_after)
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
        # Sent (``latency`` ago) after the client was told of the window, and inside it.
        if limit.limited_at + self.latency < now < limit.closed_until:
            self.violations.append(Violation(bucket, now, limit.closed_until - now))
        if limit.take(now):
            return None
        self.rate_limited[bucket] += 1
        return json_answer(429, {"error": f"Rate limit exceeded: {bucket}"}, limit.retry_after)

    # -- the service -----------------------------------------------------------------------

    def _handle(self, request: ApiRequest) -> ApiResponse:
        parts = request.path.strip("/").split("/")
        endpoint = request.endpoint
        if endpoint == "upload_url":
            name = str(request.json["filename"])
            blob_path = f"{WORKSPACE}/{name}"
            self._uploads[blob_path] = (str(request.json["contentType"]), None)
            expires = datetime.fromtimestamp(self.clock.wall() + 3600, UTC)
            return json_answer(
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
            return json_answer(201, {"blobPath": blob_path})
        if endpoint == "create_submission":
            return self._create(request)
        submission = self.submissions.get(parts[1])
        if submission is None:
            return json_answer(404, {"detail": "Submission not found"})
        if endpoint == "get_submission":
            return json_answer(200, self._status(submission))
        asset = next((a for a in submission.assets if a.asset_id == parts[3]), None)
        if asset is None:
            return json_answer(404, {"detail": "Asset not found"})
        if endpoint == "get_asset":
            return json_answer(200, self._asset_body(submission, asset))
        return self._retry(submission, asset)

    def _content(self, blob_path: str) -> bytes | None:
        _, data = self._uploads[blob_path]
        if data is not None:
            return data
        blob = self.blob.blobs.get("/assets/" + blob_path)
        return None if blob is None else blob.data

    def _create(self, request: ApiRequest) -> ApiResponse:
        wanted = request.json["assets"]
        assets: list[FakeAsset] = []
        previous: list[str | None] = []
        for item in wanted:
            path = item["blobPath"]
            if path not in self._uploads or self._content(path) is None:
                return json_answer(403, {"detail": "Invalid blob path"})
            if path in self._submitted or any(a.blob_path == path for a in assets):
                return json_answer(409, {"detail": "Asset already submitted"})
            prev_id = item.get("previousSubmissionId")
            group, number = str(uuid.uuid4()), 1
            if prev_id is not None:
                prev = self.submissions.get(prev_id)
                if prev is None:
                    return json_answer(404, {"detail": "Previous submission not found"})
                group, number = prev.assets[0].version_group_id, prev.assets[0].version_number + 1
            content = self._content(path) or b""
            assets.append(FakeAsset(str(uuid.uuid4()), path, group, number, content))
            previous.append(prev_id)
        now = self.clock.now()
        submission = FakeSubmission(str(uuid.uuid4()), now, assets, previous)
        for asset in assets:
            asset.attempts.append(now)
            self._submitted.add(asset.blob_path)
        self.submissions[submission.submission_id] = submission
        return json_answer(201, created_body(submission, "submitted"))

    def _view(self, asset: FakeAsset) -> tuple[str, int, str]:
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

    def _status(self, sub: FakeSubmission) -> dict[str, Any]:
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
                    "issueCount": len(issues_of(asset)) if state == "complete" else None,
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

    def _asset_body(self, sub: FakeSubmission, asset: FakeAsset) -> dict[str, Any]:
        state, _, _ = self._view(asset)
        done = state == "complete"
        return {
            "assetId": asset.asset_id,
            "submissionId": sub.submission_id,
            "status": state,
            "issueCount": len(issues_of(asset)) if done else None,
            "versionNumber": asset.version_number,
            "versionGroupId": asset.version_group_id,
            "issues": issues_of(asset) if done else [],
        }

    def _retry(self, sub: FakeSubmission, asset: FakeAsset) -> ApiResponse:
        state, _, outcome = self._view(asset)
        if state != "failed" or outcome != "flaky":
            return json_answer(409, {"detail": "Asset is not in a retryable failed state"})
        asset.attempts.append(self.clock.now())
        return json_answer(202, created_body(sub, "processing"))
