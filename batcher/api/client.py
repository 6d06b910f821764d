"""MediaMagic API client: one typed method per endpoint batcher uses.

Every call waits at its rate-limit bucket's gate, goes through an ``ApiTransport`` (the real
aiohttp one, or a fake in tests), has its status mapped by ``errors_map``, its answer
validated by the pydantic models, and (where it is safe) is retried by the injected
``Retrier``.

A 429 is the service pacing us, not a fault: it is handled here, below the Retrier, and never
spends one of its attempts. The gate shuts the bucket for ``Retry-After`` and lowers its rate;
the same request then waits at the gate and goes again. Only the time is bounded: a request
throttled for longer than ``max_throttle_wait`` in all stops the run (``ThrottledTooLong``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from batcher.api.errors_map import error_for_status
from batcher.api.models import (
    AssetRef,
    AssetResult,
    CreateSubmissionRequest,
    CreateWebhookRequest,
    DirectUploadResponse,
    NoContent,
    SubmissionCreated,
    SubmissionStatus,
    UploadUrlRequest,
    UploadUrlResponse,
    WebhookEventType,
    WebhookSubscription,
    WebhookSubscriptionCreated,
    WebhookSubscriptionList,
)
from batcher.api.transport import ApiRequest, ApiResponse, ApiTransport, FileUpload
from batcher.clock import Clock, RealClock
from batcher.errors import (
    ApiError,
    BatcherError,
    RateLimitedError,
    ThrottledTooLong,
    TransportError,
)
from batcher.pacing import Bucket, RequestGate
from batcher.pacing.pacer import clock_time
from batcher.redact import Redactor
from batcher.retry import Retrier

M = TypeVar("M", bound=BaseModel)

# Which rate-limit bucket each endpoint counts against (the API reference's table).
BUCKET_OF: dict[str, Bucket] = {
    "upload_url": "upload",
    "direct_upload": "upload",
    "create_submission": "submission_write",
    "retry_asset": "submission_write",
    "get_submission": "submission_read",
    "get_asset": "submission_read",
    "create_webhook": "webhook_write",
    "list_webhooks": "webhook_read",
    "delete_webhook": "webhook_write",
    "probe": "submission_read",
}


class MediaMagicClient:
    def __init__(
        self,
        transport: ApiTransport,
        *,
        api_key: SecretStr,
        gates: RequestGate,
        retrier: Retrier,
        timeout: float = 60.0,
        redactor: Redactor | None = None,
        clock: Clock | None = None,
        max_throttle_wait: float = 300.0,
    ) -> None:
        self._transport = transport
        self._key = api_key
        self.redactor = (redactor or Redactor()).with_secrets([api_key])
        """What every service text in an error goes through: the key is redacted by value."""
        self._gates = gates
        self._retrier = retrier
        self._timeout = timeout
        self._clock: Clock = clock if clock is not None else RealClock()
        self._max_throttle_wait = max_throttle_wait
        self.requests: Counter[str] = Counter()
        """Requests sent, per bucket."""
        self.throttled: Counter[str] = Counter()
        """429 answers met, per bucket."""

    # -- endpoints -------------------------------------------------------------------------

    async def upload_url(self, filename: str, content_type: str) -> UploadUrlResponse:
        body = UploadUrlRequest(filename=filename, content_type=content_type).wire()
        request = ApiRequest("POST", "/uploads/url", "upload_url", self._timeout, json=body)
        return await self._retrier.call(lambda: self._call(request, UploadUrlResponse, {200}))

    async def direct_upload(
        self, filename: str, content_type: str, source: bytes | Path, size: int
    ) -> DirectUploadResponse:
        """E2. ``source`` is the file's bytes (small files, already read) or its path, which
        is then streamed from disk in chunks on every attempt, never read whole.

        Idempotent in effect: the blob path is ``<workspace>/<filename>`` and a second upload
        of the same name replaces the first, so a retry cannot duplicate anything."""
        timeout = self._timeout + size / (256 * 1024)  # room for slow links: >= 256 KiB/s
        upload = FileUpload(filename, content_type, source, size)
        request = ApiRequest("POST", "/uploads/direct", "direct_upload", timeout, upload=upload)
        return await self._retrier.call(
            lambda: self._call(request, DirectUploadResponse, {200, 201})
        )

    async def create_submission(
        self, assets: list[AssetRef], *, simulation_delay: int | None = None
    ) -> SubmissionCreated:
        """E4 is not idempotent. Retried only when the service surely did not act on it:
        429 (refused before work), 500/502 (documented safe), or a connection never made.
        An ambiguous transport failure is raised to the caller, which decides (submit stage).
        """
        params: dict[str, str | int] = (
            {} if simulation_delay is None else {"simulationDelaySeconds": simulation_delay}
        )
        body = CreateSubmissionRequest(assets=assets).wire()
        request = ApiRequest(
            "POST", "/submissions", "create_submission", self._timeout, params=params, json=body
        )

        def safe(exc: BatcherError) -> bool:
            if isinstance(exc, TransportError):
                return not exc.ambiguous and exc.retryable
            return exc.retryable

        return await self._retrier.call(
            lambda: self._call(request, SubmissionCreated, {200, 201}), retry_if=safe
        )

    async def get_submission(self, submission_id: str) -> SubmissionStatus:
        path = f"/submissions/{submission_id}"
        request = ApiRequest("GET", path, "get_submission", self._timeout)
        return await self._retrier.call(lambda: self._call(request, SubmissionStatus, {200}))

    async def get_asset(self, submission_id: str, asset_id: str) -> AssetResult:
        path = f"/submissions/{submission_id}/assets/{asset_id}"
        request = ApiRequest("GET", path, "get_asset", self._timeout)
        return await self._retrier.call(lambda: self._call(request, AssetResult, {200}))

    async def retry_asset(self, submission_id: str, asset_id: str) -> SubmissionCreated:
        # A repeat after an ambiguous failure answers 409 "retry already running", which the
        # poll stage treats as accepted, so retrying transport failures here is safe.
        path = f"/submissions/{submission_id}/assets/{asset_id}/retry"
        request = ApiRequest("POST", path, "retry_asset", self._timeout)
        return await self._retrier.call(lambda: self._call(request, SubmissionCreated, {200, 202}))

    async def create_webhook(
        self, endpoint_url: str, event_types: list[WebhookEventType], description: str
    ) -> WebhookSubscriptionCreated:
        """E10. Not idempotent: retried only when the service surely did not act on it (a
        duplicate made by an ambiguous failure is removed by the next run's stale sweep)."""
        body = CreateWebhookRequest(
            endpoint_url=endpoint_url, event_types=event_types, description=description
        ).wire()
        request = ApiRequest(
            "POST", "/webhooks/subscriptions", "create_webhook", self._timeout, json=body
        )

        def safe(exc: BatcherError) -> bool:
            if isinstance(exc, TransportError):
                return not exc.ambiguous and exc.retryable
            return exc.retryable

        return await self._retrier.call(
            lambda: self._call(request, WebhookSubscriptionCreated, {200, 201}), retry_if=safe
        )

    async def list_webhooks(self) -> list[WebhookSubscription]:
        request = ApiRequest("GET", "/webhooks/subscriptions", "list_webhooks", self._timeout)
        listing = await self._retrier.call(
            lambda: self._call(request, WebhookSubscriptionList, {200})
        )
        return listing.subscriptions

    async def delete_webhook(self, subscription_id: str) -> bool:
        """E13 delete (204). False when it was already gone (404): deleting is idempotent."""
        path = f"/webhooks/subscriptions/{subscription_id}"
        request = ApiRequest("DELETE", path, "delete_webhook", self._timeout)
        try:
            await self._retrier.call(lambda: self._call(request, NoContent, {200, 204}))
        except ApiError as exc:
            if exc.http_status == 404:
                return False
            raise
        return True

    async def probe(self, submission_id: str) -> ApiResponse:
        """One E5 for a submission that cannot exist, sent once (no Retrier): the caller
        (``api/probe.py``) reads the raw answer. Transport failures are raised."""
        request = ApiRequest("GET", f"/submissions/{submission_id}", "probe", self._timeout)
        return await self._send(request)

    # -- plumbing --------------------------------------------------------------------------

    async def _send(self, request: ApiRequest) -> ApiResponse:
        """Send once past the gate; a 429 shuts the bucket and the request waits and goes
        again (bounded by time, not by attempts)."""
        bucket = BUCKET_OF[request.endpoint]
        first_429: float | None = None
        while True:
            await self._gates.acquire(bucket)
            self.requests[bucket] += 1
            response = await self._transport.send(request, key=self._key)
            if response.status != 429:
                self._gates.on_success(bucket)
                return response
            error = error_for_status(
                response.status, response.text, dict(response.headers), redactor=self.redactor
            )
            assert isinstance(error, RateLimitedError)
            self.throttled[bucket] += 1
            self._gates.on_throttled(bucket, error.retry_after)
            now = self._clock.now()
            first_429 = now if first_429 is None else first_429
            if now - first_429 > self._max_throttle_wait:
                raise ThrottledTooLong(
                    f"{request.method} {request.path} was throttled for {now - first_429:.0f} s "
                    f"(more than --max-throttle-wait {self._max_throttle_wait:g} s); re-run the "
                    "same command later to finish",
                    bucket=bucket,
                    until=clock_time(self._clock, now),
                )

    async def _call(self, request: ApiRequest, model: type[M], ok: set[int]) -> M:
        response = await self._send(request)
        what = f"{request.method} {request.path}"
        if response.status not in ok:
            raise error_for_status(
                response.status, response.text, dict(response.headers), redactor=self.redactor
            )
        if model is NoContent and not response.text.strip():
            return model()
        try:
            return model.model_validate_json(response.text)
        except ValidationError as exc:
            raise ApiError(
                self.redactor.untrusted(f"{what}: unexpected answer")
                + f" ({exc.error_count()} schema errors)",
                code="bad_response",
                http_status=response.status,
            ) from None
