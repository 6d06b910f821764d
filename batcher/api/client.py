"""MediaMagic API client: one typed method per endpoint batcher uses.

Every call waits at its rate-limit bucket's gate, is translated by ``errors_map``, and (where
it is safe) retried by the injected ``Retrier``. The key is sent only to the API base URL,
per request: the shared session carries no default headers, so blob requests never see it.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path
from typing import IO, Any, TypeVar

import aiohttp
from pydantic import BaseModel, SecretStr, ValidationError

from batcher.api.errors_map import error_for_status, map_transport_errors
from batcher.api.models import (
    AssetRef,
    AssetResult,
    CreateSubmissionRequest,
    DirectUploadResponse,
    SubmissionCreated,
    SubmissionStatus,
    UploadUrlRequest,
    UploadUrlResponse,
)
from batcher.errors import ApiError, BatcherError, RateLimitedError, TransportError
from batcher.ratelimit import Bucket, RequestGates
from batcher.retry import Retrier

M = TypeVar("M", bound=BaseModel)
PREFIX = "/api/integrations"


class MediaMagicClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: SecretStr,
        gates: RequestGates,
        retrier: Retrier,
        timeout: float = 60.0,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._key = api_key
        self._gates = gates
        self._retrier = retrier
        self._timeout = timeout
        self.requests: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()

    # -- endpoints -------------------------------------------------------------------------

    async def upload_url(self, filename: str, content_type: str) -> UploadUrlResponse:
        body = UploadUrlRequest(filename=filename, content_type=content_type).wire()
        return await self._retrier.call(
            lambda: self._call(
                "upload", "POST", "/uploads/url", UploadUrlResponse, {200}, json=body
            )
        )

    async def direct_upload(
        self, filename: str, content_type: str, source: bytes | Path, size: int
    ) -> DirectUploadResponse:
        """E2. ``source`` is the file's bytes (small files, already read) or its path, which
        is then streamed from disk in chunks on every attempt, never read whole.

        Idempotent in effect: the blob path is ``<workspace>/<filename>`` and a second upload
        of the same name replaces the first, so a retry cannot duplicate anything."""

        def form(body: IO[bytes]) -> aiohttp.FormData:
            # quote_fields=False: aiohttp would otherwise percent-encode the file name, and
            # the service stores the name it receives ("a b.pdf" would become "a%20b.pdf").
            fd = aiohttp.FormData(quote_fields=False)
            fd.add_field("file", body, filename=filename, content_type=content_type)
            return fd

        timeout = self._timeout + size / (256 * 1024)  # room for slow links: >= 256 KiB/s

        async def attempt() -> DirectUploadResponse:
            def send(body: IO[bytes]) -> Awaitable[DirectUploadResponse]:
                return self._call(
                    "upload",
                    "POST",
                    "/uploads/direct",
                    DirectUploadResponse,
                    {200, 201},
                    data=form(body),
                    seconds=timeout,
                )

            if isinstance(source, bytes):
                return await send(io.BytesIO(source))  # BytesIO: aiohttp warns on big bytes
            with source.open("rb") as fh:
                return await send(fh)

        return await self._retrier.call(attempt)

    async def create_submission(
        self, assets: list[AssetRef], *, simulation_delay: int | None = None
    ) -> SubmissionCreated:
        """E4 is not idempotent. Retried only when the service surely did not act on it:
        429 (refused before work), 500/502 (documented safe), or a connection never made.
        An ambiguous transport failure is raised to the caller, which decides (submit stage).
        """
        params = {} if simulation_delay is None else {"simulationDelaySeconds": simulation_delay}
        body = CreateSubmissionRequest(assets=assets).wire()

        def safe(exc: BatcherError) -> bool:
            if isinstance(exc, TransportError):
                return not exc.ambiguous
            return exc.retryable

        return await self._retrier.call(
            lambda: self._call(
                "submission_write",
                "POST",
                "/submissions",
                SubmissionCreated,
                {200, 201},
                json=body,
                params=params,
            ),
            retry_if=safe,
        )

    async def get_submission(self, submission_id: str) -> SubmissionStatus:
        return await self._retrier.call(
            lambda: self._call(
                "submission_read", "GET", f"/submissions/{submission_id}", SubmissionStatus, {200}
            )
        )

    async def get_asset(self, submission_id: str, asset_id: str) -> AssetResult:
        path = f"/submissions/{submission_id}/assets/{asset_id}"
        return await self._retrier.call(
            lambda: self._call("submission_read", "GET", path, AssetResult, {200})
        )

    async def retry_asset(self, submission_id: str, asset_id: str) -> SubmissionCreated:
        # A repeat after an ambiguous failure answers 409 "retry already running", which the
        # poll stage treats as accepted, so retrying transport failures here is safe.
        path = f"/submissions/{submission_id}/assets/{asset_id}/retry"
        return await self._retrier.call(
            lambda: self._call("submission_write", "POST", path, SubmissionCreated, {200, 202})
        )

    # -- plumbing --------------------------------------------------------------------------

    async def _call(
        self,
        bucket: Bucket,
        method: str,
        path: str,
        model: type[M],
        ok: set[int],
        *,
        seconds: float | None = None,
        **kwargs: Any,
    ) -> M:
        await self._gates.acquire(bucket)
        what = f"{method} {path}"
        self.requests[bucket] += 1
        headers = {"X-API-Key": self._key.get_secret_value(), "Accept": "application/json"}
        client_timeout = aiohttp.ClientTimeout(total=seconds or self._timeout)
        with map_transport_errors(what):
            async with self._session.request(
                method,
                self._base + PREFIX + path,
                headers=headers,
                timeout=client_timeout,
                **kwargs,
            ) as resp:
                text = await resp.text()
                status = resp.status
                resp_headers = dict(resp.headers)
        if status not in ok:
            error = error_for_status(status, text, resp_headers)
            if isinstance(error, RateLimitedError):
                self.throttled[bucket] += 1
                self._gates.throttled(bucket, error.retry_after)
            raise error
        try:
            return model.model_validate_json(text)
        except ValidationError as exc:
            raise ApiError(
                f"{what}: unexpected answer ({exc.error_count()} schema errors)",
                code="bad_response",
                http_status=status,
            ) from None
