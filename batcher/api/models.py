"""Pydantic v2 models of the MediaMagic wire format (camelCase on the wire, snake_case here).

Responses are parsed leniently (``extra="ignore"``): the reference was only partly readable,
so unknown fields must not break a run. Requests are strict (``extra="forbid"``): E4 refuses
asset objects with anything but ``blobPath``/``previousSubmissionId``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel

SubmissionStatusName = Literal["uploading", "submitted", "processing", "complete", "failed"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"complete", "failed"})


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class _Request(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


# E1
class UploadUrlRequest(_Request):
    filename: str
    content_type: str


class UploadUrlResponse(_Wire):
    upload_url: str = Field(repr=False)  # carries the SAS signature
    blob_path: str
    expires_at: str


# E2: the response shape is NOT STATED in the reference; ``blobPath`` is its own inference
# from the concepts page ("you get back the blobPath immediately").
class DirectUploadResponse(_Wire):
    blob_path: str


# E4
class AssetRef(_Request):
    blob_path: str
    previous_submission_id: str | None = None


class CreateSubmissionRequest(_Request):
    assets: list[AssetRef]


class CreatedAsset(_Wire):
    asset_id: str
    version_group_id: str | None = None
    version_number: int | None = None


class SubmissionCreated(_Wire):
    submission_id: str
    workflow_id: str | None = None
    status: str = "submitted"
    assets: list[CreatedAsset]


# E5
class AssetStatus(_Wire):
    asset_id: str
    version_group_id: str | None = None
    version_number: int | None = None
    issue_count: int | None = None
    error_message: str | None = None
    error_type: str | None = None
    is_retryable: bool = False
    retry_count: int = 0
    # The per-asset status is NOT STATED for E5 items; read it when present.
    status: str | None = None


class SubmissionStatus(_Wire):
    submission_id: str
    status: str
    progress_percent: int | None = None
    error_message: str | None = None
    assets: list[AssetStatus] = Field(default_factory=list)
    is_retryable: bool = False

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


# E6
class AssetResult(_Wire):
    asset_id: str
    submission_id: str | None = None
    filename: str | None = None
    mime_type: str | None = None
    status: str
    issue_count: int | None = None
    version_number: int | None = None
    version_group_id: str | None = None
    # Issues are carried to the report exactly as the API returns them.
    issues: list[dict[str, Any]] = Field(default_factory=list)
    # E6's documented example carries no error fields; E5's asset items do. Read them here
    # when present, else from the E5 item (poll stage).
    error_message: str | None = None
    error_type: str | None = None
    is_retryable: bool | None = None


# E10 / E13 (list, delete). The list shape is NOT STATED in the reference; we read
# ``{"subscriptions": [...]}`` and accept a bare array too (see ``client.py``).
WebhookEventType = Literal["asset.processing.completed", "asset.processing.failed"]


class CreateWebhookRequest(_Request):
    endpoint_url: str
    event_types: list[WebhookEventType]
    description: str | None = None


class WebhookSubscription(_Wire):
    id: str
    endpoint_url: str
    event_types: list[str] = Field(default_factory=list)
    enabled: bool = True
    description: str | None = None
    created_at: str | None = None


class WebhookSubscriptionCreated(WebhookSubscription):
    # Shown once, never again: kept in memory only, never in a repr, log or file.
    secret: SecretStr


class WebhookSubscriptionList(_Wire):
    subscriptions: list[WebhookSubscription] = Field(default_factory=list)


class NoContent(_Wire):
    """A 204 answer (DELETE)."""
