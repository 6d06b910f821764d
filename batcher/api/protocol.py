"""What the stages need from the service: the Protocol ``RunContext`` holds.

``MediaMagicClient`` implements it over a transport; tests may pass the same client over
``batcher.api.testing.FakeMediaMagic`` (no sockets), or any object with these methods.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Protocol

from batcher.api.models import (
    AssetRef,
    AssetResult,
    DirectUploadResponse,
    SubmissionCreated,
    SubmissionStatus,
    UploadUrlResponse,
    WebhookEventType,
    WebhookSubscription,
    WebhookSubscriptionCreated,
)
from batcher.api.transport import ApiResponse


class MediaMagicApi(Protocol):
    requests: Counter[str]
    """Requests sent, per rate-limit bucket."""
    throttled: Counter[str]
    """429 answers met, per rate-limit bucket."""

    async def upload_url(self, filename: str, content_type: str) -> UploadUrlResponse: ...

    async def direct_upload(
        self, filename: str, content_type: str, source: bytes | Path, size: int
    ) -> DirectUploadResponse: ...

    async def create_submission(
        self, assets: list[AssetRef], *, simulation_delay: int | None = None
    ) -> SubmissionCreated: ...

    async def get_submission(self, submission_id: str) -> SubmissionStatus: ...

    async def get_asset(self, submission_id: str, asset_id: str) -> AssetResult: ...

    async def retry_asset(self, submission_id: str, asset_id: str) -> SubmissionCreated: ...

    async def create_webhook(
        self, endpoint_url: str, event_types: list[WebhookEventType], description: str
    ) -> WebhookSubscriptionCreated: ...

    async def list_webhooks(self) -> list[WebhookSubscription]: ...

    async def delete_webhook(self, subscription_id: str) -> bool: ...

    async def probe(self, submission_id: str) -> ApiResponse:
        """One unretried E5 for the pre-flight connectivity check (``api/probe.py``)."""
        ...
