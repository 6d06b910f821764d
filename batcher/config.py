"""Settings: every knob of a run, validated once and passed down explicitly.

Choices the API reference leaves open are made here, each in one place:
* ``direct_max_bytes``: "10 MB" is never given in bytes; 10,000,000 is safe whether the
  service means 10^7 or 2^20·10.
* ``category_caps``: the per-category maximums are not said to be decimal or binary; we take
  decimal, the stricter reading, so a file we accept is never refused at E4.
* ``rerun``: what a re-run of the same manifest does about blob paths (see ``naming.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from batcher.scale.shard import Shard

DEFAULT_BASE_URL = "https://mm-midmarket-integrations-api-preview.azurewebsites.net"
MiB = 1024 * 1024

ALLOWED_TYPES: dict[str, str] = {
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

CATEGORY_CAPS: dict[str, int] = {
    "video": 5_000_000_000,
    "audio": 500_000_000,
    "image": 50_000_000,
    "document": 100_000_000,
}


class PollSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    workers: int = Field(4, ge=1, le=64)
    initial: float = Field(5.0, gt=0, description="first wait; the docs' sample loop uses 5 s")
    multiplier: float = Field(1.5, ge=1.0)
    max_interval: float = Field(60.0, gt=0)
    min_interval: float = Field(
        1.0, gt=0, description="shortest wait when progressPercent predicts the end sooner"
    )
    deadline: float = Field(3600.0, gt=0, description="per submission, from its creation")
    fetch_concurrency: int = Field(8, ge=1, le=64, description="E6 fetches in flight, all pollers")
    asset_retries: int = Field(2, ge=0, description="E9 retries per failed retryable asset")


class WebhookSettings(BaseModel):
    """Webhooks on: a subscription for the run, a receiver, and polling kept as a slow
    reconciliation (``batcher/webhooks``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(description="public HTTPS URL the service calls (registered with E10)")
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(8787, ge=0, le=65535)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    reconcile_first: float = Field(
        30.0, gt=0, description="first status read of a submission no event has finished"
    )
    reconcile_max: float = Field(600.0, gt=0, description="longest wait between such reads")
    settle_margin: float = Field(
        5.0, gt=0, description="after an event, how long its siblings may take before a read"
    )
    cleanup_timeout: float = Field(10.0, gt=0, description="bound on deleting the subscription")

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        from yarl import URL

        url = URL(value)
        if url.scheme != "https" or not url.host:
            raise ValueError(f"--webhook-url must be an https:// URL with a host: {value!r}")
        return value

    @model_validator(mode="after")
    def _cert_and_key(self) -> WebhookSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--webhook-tls-cert and --webhook-tls-key go together")
        return self

    @property
    def path(self) -> str:
        """The receiver answers on the URL's path (a proxy must forward it unchanged)."""
        from yarl import URL

        return URL(self.url).path or "/"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = DEFAULT_BASE_URL
    api_key: SecretStr | None = None
    report_path: Path | None = None

    upload_workers: int = Field(8, ge=1, le=256)
    direct_max_bytes: int = Field(10_000_000, ge=0)
    block_size: int = Field(8 * MiB, ge=64 * 1024, le=4000 * MiB)
    block_concurrency: int = Field(4, ge=1, le=64)
    memory_budget: int = Field(256 * MiB, ge=MiB)
    adaptive_concurrency: bool = True
    """Size the blob requests in flight (all files) to the link's measured throughput, up
    to ``upload_workers x block_concurrency`` (``blob/link.py``); off: that many always."""
    bwlimit: float | None = Field(None, gt=0)
    """Bytes per second the run's upload bodies may use on average (None: no cap)."""

    batch_size: int = Field(50, ge=1, le=1000)
    batch_linger: float = Field(2.0, ge=0)
    simulation_delay: int | None = Field(None, ge=0, le=30)

    poll: PollSettings = Field(default_factory=PollSettings)
    webhooks: WebhookSettings | None = None
    """None: polling only."""

    request_timeout: float = Field(60.0, gt=0)
    retry_attempts: int = Field(6, ge=1)
    retry_budget: float = Field(300.0, gt=0)
    retry_initial_wait: float = Field(0.5, ge=0)
    max_throttle_wait: float = Field(300.0, gt=0)
    """Longest Retry-After waited out; a longer one stops the run (re-run to finish)."""
    max_rate: dict[str, float] = Field(default_factory=dict)
    """User ceiling per rate-limit bucket, requests/s (a key shared with other tools)."""

    max_outage: float = Field(900.0, gt=0)
    """How long a host may stay unreachable (senders wait, probes go out) before the run
    stops cleanly, resumable by the same command."""

    journal_path: Path | None = None
    """Default: next to the report, ``<report>.journal.sqlite``."""
    shutdown_grace: float = Field(10.0, ge=0)
    """After Ctrl-C/SIGTERM, how long in-flight requests may take before they are cut."""
    fresh: bool = False
    """Ignore (delete) the journal of an earlier run and start afresh."""

    rerun: Literal["fresh", "skip"] = "fresh"
    on_ambiguous_create: Literal["resubmit", "report"] = "resubmit"
    """After a create whose answer was lost and that the service then says it holds (409):
    upload and submit those rows again under fresh blob names (marked in the report), or
    report them ``submission_unconfirmed`` (``stages/submit.py``)."""
    manifest_encoding: str = "auto"
    """``auto`` (byte-order mark, else UTF-8) or a codec name, e.g. ``latin-1``."""
    shard: Shard | None = None
    """``--shard K/N``: only the rows whose key hashes to K of N (``batcher.scale.shard``)."""

    incremental: bool = False
    """Nightly sweeps: carry unchanged rows' earlier results, review changed ones as new
    versions (``stages/carry.py``)."""
    key_column: str | None = None
    """The manifest column that identifies a row across runs (default: the resolved path)."""
    checksum: bool = False
    """``--incremental``: tell a change by the content's SHA-256, not size and mtime."""
    max_age_days: float | None = Field(None, ge=0)
    """``--incremental``: review again results older than this (as a new version)."""
    refresh_issues: bool = False
    """``--incremental``: fetch carried rows' results again (E6) for current issue statuses."""
    category_caps: dict[str, int] = Field(default_factory=lambda: dict(CATEGORY_CAPS))

    @field_validator("manifest_encoding")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        import codecs

        if value != "auto":
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @field_validator("max_rate")
    @classmethod
    def _known_buckets(cls, value: dict[str, float]) -> dict[str, float]:
        buckets = ("upload", "submission_write", "submission_read")
        for bucket, rate in value.items():
            if bucket not in buckets:
                raise ValueError(f"unknown bucket {bucket!r}; buckets: {', '.join(buckets)}")
            if not rate > 0:
                raise ValueError(f"{bucket}: the rate must be above 0")
        return value

    @field_validator("base_url")
    @classmethod
    def _https_unless_loopback(cls, value: str) -> str:
        from yarl import URL

        url = URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"not an http(s) URL: {value!r}")
        loopback = url.host in ("localhost", "::1") or url.host.startswith("127.")
        if url.scheme == "http" and not loopback:
            raise ValueError("plain http is only allowed for loopback hosts (the key would leak)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _incremental_options(self) -> Settings:
        if not self.incremental and (
            self.checksum or self.max_age_days is not None or self.refresh_issues
        ):
            raise ValueError(
                "--checksum, --max-age and --refresh-issues only apply with --incremental"
            )
        if self.incremental and self.rerun == "skip":
            # Carrying is the skip; a retried or aged row needs a new blob path to be sent.
            raise ValueError("--incremental names blobs per sweep: not with --rerun skip")
        return self
