"""What the sandbox has seen and holds, in plain records other engineers' tests can read.

Nothing here is global: each running sandbox owns one ``SandboxState``. Status of a
submission is never stored; it is computed from timestamps on each read (see
``processing.py``), so there are no background tasks to clean up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["ok", "flaky", "broken"]


@dataclass
class BlobStats:
    """Per blob path: what the blob endpoint (and direct upload) received and holds."""

    blob_path: str
    committed_size: int | None = None
    committed_md5: str | None = None  # base64, like Azure's Content-MD5
    committed_sha256: str | None = None  # hex
    bytes_received: int = 0  # every body byte read, across retries and failed attempts
    operations: Counter[str] = field(default_factory=Counter)  # endpoint name → count


@dataclass
class IssuedPath:
    """A blob path handed out by E1/E2, with the content type declared for it."""

    blob_path: str
    workspace_id: str
    filename: str
    content_type: str


@dataclass
class Attempt:
    """One processing run of an asset (the first run, then one per E9 retry)."""

    started_at: float
    duration: float
    workflow_id: str

    @property
    def ends_at(self) -> float:
        return self.started_at + self.duration


@dataclass
class AssetRecord:
    asset_id: str
    blob_path: str
    filename: str
    mime_type: str
    size: int
    content_sha256: str  # hex
    version_group_id: str
    version_number: int
    outcome: Outcome
    issues: list[dict[str, Any]]
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def retry_count(self) -> int:
        return len(self.attempts) - 1


@dataclass
class SubmissionRecord:
    submission_id: str
    workspace_id: str
    workflow_id: str
    created_at: float
    simulation_delay_seconds: int
    assets: list[AssetRecord]
    sidekick_ids: list[str]
    metadata: dict[str, Any] | None

    def asset(self, asset_id: str) -> AssetRecord | None:
        return next((a for a in self.assets if a.asset_id == asset_id), None)


@dataclass
class RateLimitViolation:
    """A request that came before the Retry-After its bucket was last given had passed."""

    bucket: str
    endpoint: str
    at: float
    early_by_seconds: float


@dataclass
class Subscription:
    """A webhook subscription (E10). The secret never appears in a repr."""

    id: str
    workspace_id: str
    endpoint_url: str
    event_types: list[str]
    description: str | None
    secret: str = field(repr=False)
    enabled: bool = True
    created_at: float = 0.0
    updated_at: float = 0.0

    def wants(self, event_type: str) -> bool:
        return self.enabled and event_type in self.event_types


@dataclass
class WebhookEvent:
    """One event (one asset's end, or one E12 firing for an asset) and where it was sent."""

    id: str  # "evt_…"; the Standard Webhooks message id, the same on every copy and retry
    type: str
    submission_id: str
    asset_id: str
    payload: dict[str, Any]  # the envelope, as sent
    subscription_ids: list[str]  # the subscriptions it was meant for (lost ones included)
    fired: bool = False  # from E12, not from processing


@dataclass
class DeliveryAttempt:
    """One POST of an event to a subscription's endpoint (E11 lists these)."""

    id: str
    subscription_id: str
    event_id: str
    status: Literal["succeeded", "failed"]
    response_status: int | None  # None: no HTTP answer (connect error, TLS error, timeout)
    created_at: float
    error: str | None = None


@dataclass
class SandboxState:
    submissions: dict[str, SubmissionRecord] = field(default_factory=dict)
    created_submissions: int = 0
    requests: Counter[str] = field(default_factory=Counter)  # endpoint name → requests seen
    responses: Counter[str] = field(default_factory=Counter)  # "endpoint:status" → count
    blob_bytes_received: int = 0
    blob_requests_with_credentials: int = 0  # blob requests carrying X-API-Key/Authorization
    blobs: dict[str, BlobStats] = field(default_factory=dict)
    issued: dict[str, IssuedPath] = field(default_factory=dict)
    submitted_blob_paths: set[str] = field(default_factory=set)
    submitted_content_hashes: Counter[str] = field(default_factory=Counter)  # sha256 hex
    rate_limit_violations: list[RateLimitViolation] = field(default_factory=list)
    rate_limited: Counter[str] = field(default_factory=Counter)  # bucket → 429s sent
    # bucket (or "blob" for the blob endpoints) → requests seen, 429s and errors included
    bucket_requests: Counter[str] = field(default_factory=Counter)
    faults_injected: int = 0  # total faults injected
    fault_counts: Counter[str] = field(default_factory=Counter)  # "endpoint:kind" → count
    version_groups: dict[str, int] = field(default_factory=dict)  # group id → highest version
    # --- webhooks -------------------------------------------------------------------------
    webhook_subscriptions: dict[str, Subscription] = field(default_factory=dict)
    webhook_events: list[WebhookEvent] = field(default_factory=list)
    webhook_attempts: list[DeliveryAttempt] = field(default_factory=list)
    webhook_delivered: Counter[str] = field(default_factory=Counter)  # event id → 2xx answers
    webhook_lost: int = 0  # (event, subscription) deliveries dropped on purpose
    webhook_duplicated: int = 0  # (event, subscription) deliveries sent twice on purpose
    webhook_given_up: int = 0  # deliveries whose every attempt failed

    # --- helpers --------------------------------------------------------------------------
    def blob(self, blob_path: str) -> BlobStats:
        """Stats for a blob path, created on first use."""
        stats = self.blobs.get(blob_path)
        if stats is None:
            stats = self.blobs[blob_path] = BlobStats(blob_path)
        return stats

    def bytes_received_for(self, blob_path: str) -> int:
        stats = self.blobs.get(blob_path)
        return stats.bytes_received if stats else 0

    def duplicate_content_hashes(self) -> list[str]:
        """Content submitted more than once (a client that re-submits a file shows up here)."""
        return sorted(h for h, n in self.submitted_content_hashes.items() if n > 1)

    def all_assets(self) -> list[AssetRecord]:
        return [a for s in self.submissions.values() for a in s.assets]

    def find_asset_by_blob_path(self, blob_path: str) -> AssetRecord | None:
        return next((a for a in self.all_assets() if a.blob_path == blob_path), None)

    def record_response(self, endpoint: str, status: int) -> None:
        self.responses[f"{endpoint}:{status}"] += 1
