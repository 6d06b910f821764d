"""Every knob of the sandbox, in one frozen model. All faults and limits are off by default,
so a bare ``SandboxConfig()`` behaves like a healthy, unthrottled service."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_TEST_KEY = "sk_test_sandbox"
# The workspace from the API reference's examples, so blob paths look like the docs'.
DEFAULT_WORKSPACE_ID = "660e8400-e29b-41d4-a716-446655440000"

MiB = 1024 * 1024

BucketName = Literal[
    "upload", "submission_write", "submission_read", "webhook_write", "webhook_read", "sandbox"
]
BUCKETS: tuple[BucketName, ...] = (
    "upload",
    "submission_write",
    "submission_read",
    "webhook_write",
    "webhook_read",
    "sandbox",
)
WEBHOOK_EVENT_TYPES = ("asset.processing.completed", "asset.processing.failed")

# Endpoint names used for faults, request counters and rate-limit buckets.
API_ENDPOINTS: dict[str, BucketName] = {
    "upload_url": "upload",
    "direct_upload": "upload",
    "create_submission": "submission_write",
    "retry_asset": "submission_write",
    "get_submission": "submission_read",
    "get_asset": "submission_read",
    "get_issues": "submission_read",
    "create_subscription": "webhook_write",
    "update_subscription": "webhook_write",
    "delete_subscription": "webhook_write",
    "list_subscriptions": "webhook_read",
    "get_subscription": "webhook_read",
    "list_deliveries": "webhook_read",
    "fire_events": "sandbox",
}
BLOB_ENDPOINTS = (
    "blob_put_blob",
    "blob_put_block",
    "blob_put_block_list",
    "blob_get_block_list",
    "blob_get_blob",
)

# The documented content-type allowlist, exactly; the category decides the size cap.
ALLOWED_CONTENT_TYPES: dict[str, str] = {
    "video/mp4": "video",
    "video/quicktime": "video",
    "video/x-msvideo": "video",
    "video/x-matroska": "video",
    "audio/mpeg": "audio",
    "audio/wav": "audio",
    "audio/x-wav": "audio",
    "audio/aac": "audio",
    "audio/ogg": "audio",
    "image/jpeg": "image",
    "image/png": "image",
    "image/gif": "image",
    "image/webp": "image",
    "image/svg+xml": "image",
    "application/pdf": "document",
    "application/msword": "document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "document",
    "text/plain": "document",
}

# The docs say "5 GB / 500 MB / 50 MB / 100 MB" without saying decimal or binary; decimal is
# the stricter reading, so a client that stays under it is safe either way.
DEFAULT_CATEGORY_MAX_BYTES: dict[str, int] = {
    "video": 5_000_000_000,
    "audio": 500_000_000,
    "image": 50_000_000,
    "document": 100_000_000,
}


class FaultSpec(BaseModel):
    """Probabilities (0..1) of each fault per request; they are exclusive and drawn once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    error_500: float = Field(default=0.0, ge=0.0, le=1.0)
    error_502: float = Field(default=0.0, ge=0.0, le=1.0)
    error_503: float = Field(default=0.0, ge=0.0, le=1.0)
    drop_before: float = Field(default=0.0, ge=0.0, le=1.0)
    drop_after: float = Field(default=0.0, ge=0.0, le=1.0)
    latency_seconds: float = Field(default=0.0, ge=0.0)


class RateLimit(BaseModel):
    """A token bucket: ``rate`` tokens per second (None = unlimited), at most ``burst`` saved."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: float | None = Field(default=None, gt=0.0)
    burst: int = Field(default=1, ge=1)
    retry_after_seconds: int | None = Field(default=None, ge=0)  # None: the config's default


class SandboxConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- keys -----------------------------------------------------------------------------
    accept_any_test_key: bool = True  # any "sk_test_…" key is valid
    test_keys: frozenset[str] = frozenset({DEFAULT_TEST_KEY})
    live_keys: frozenset[str] = frozenset()
    expired_keys: frozenset[str] = frozenset()
    revoked_keys: frozenset[str] = frozenset()
    unpaid_keys: frozenset[str] = frozenset()  # 402 plan gating
    workspace_id: str = DEFAULT_WORKSPACE_ID
    key_workspaces: dict[str, str] = Field(default_factory=dict)  # per-key workspace override

    # --- uploads --------------------------------------------------------------------------
    sas_lifetime_seconds: int = Field(default=3600, ge=0)
    sas_permissions: str = "cw"  # the real service may not grant "r"
    direct_max_bytes: int = Field(default=10_000_000, ge=0)
    category_max_bytes: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_CATEGORY_MAX_BYTES)
    )
    storage_dir: Path | None = None  # None: a TemporaryDirectory removed on exit (or state_dir)

    # --- Azure Blob service limits (configurable so tests can reach them cheaply) -----------
    blob_max_put_blob_bytes: int = 5000 * MiB
    blob_max_block_bytes: int = 4000 * MiB
    blob_max_uncommitted_blocks: int = 100_000
    blob_max_block_list: int = 50_000

    # --- submissions and processing -------------------------------------------------------
    max_assets_per_submission: int | None = Field(default=None, ge=1)
    processing_delay: float = Field(default=2.0, ge=0.0)
    max_customer_retries: int = Field(default=3, ge=0)

    # --- rate limits (per API key and bucket; absent bucket = unlimited) --------------------
    rate_limits: dict[BucketName, RateLimit] = Field(default_factory=dict)
    retry_after_seconds: int = Field(default=1, ge=0)
    # Requests arriving this soon after a 429 were already in flight when it was sent (a
    # concurrent client cannot recall them), so they are not counted as violations.
    rate_limit_grace_seconds: float = Field(default=0.25, ge=0.0)

    # --- the client's link: one shared pace for every upload body read (None = unpaced) ---
    blob_bandwidth_bytes_per_s: float | None = Field(default=None, gt=0.0)

    # --- webhooks ---------------------------------------------------------------------------
    webhook_subscription_limit: int = Field(default=10, ge=0)  # per workspace
    webhook_loss: float = Field(default=0.0, ge=0.0, le=1.0)  # events never delivered
    webhook_duplicate: float = Field(default=0.0, ge=0.0, le=1.0)  # events delivered twice
    webhook_max_attempts: int = Field(default=4, ge=1)  # per delivery, first try included
    webhook_retry_backoff_seconds: float = Field(default=0.1, ge=0.0)  # doubles per retry
    webhook_timeout_seconds: float = Field(default=5.0, gt=0.0)
    webhook_ca_file: Path | None = None  # PEM bundle trusted for HTTPS receivers

    # --- state that survives a restart (None: in memory only) -------------------------------
    state_dir: Path | None = None

    # --- faults (key: endpoint name or "*") -----------------------------------------------
    seed: int = 0
    faults: dict[str, FaultSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_home_for_blobs(self) -> SandboxConfig:
        if self.state_dir is not None and self.storage_dir is not None:
            raise ValueError("set state_dir or storage_dir, not both (state_dir keeps blobs too)")
        return self

    def fault_for(self, endpoint: str) -> FaultSpec | None:
        """The most specific spec: the endpoint's, its group's (a bucket name, or "blob" for
        the blob endpoints), then "*"."""
        group = API_ENDPOINTS.get(endpoint) or ("blob" if endpoint.startswith("blob_") else None)
        spec = self.faults.get(endpoint)
        if spec is None and group is not None:
            spec = self.faults.get(group)
        return spec or self.faults.get("*")
