"""The gate the API client calls around every request, as a small Protocol, so another
implementation (e.g. one shared by several machines) can stand in for ``Pacer``."""

from __future__ import annotations

from typing import Literal, Protocol

from batcher.pacing.bucket import BucketStats

Bucket = Literal["upload", "submission_write", "submission_read", "webhook_write", "webhook_read"]
BUCKETS: tuple[Bucket, ...] = (
    "upload",
    "submission_write",
    "submission_read",
    "webhook_write",
    "webhook_read",
)

# Without a Retry-After header (the docs say it is always sent) wait this long.
DEFAULT_RETRY_AFTER = 5.0


class RequestGate(Protocol):
    async def acquire(self, bucket: Bucket) -> None:
        """Return when one request of ``bucket`` may be sent now: never inside a
        ``Retry-After`` window, and no faster than the bucket's learned rate. Raises
        ``ThrottledTooLong`` when the bucket is shut for longer than the run may wait."""
        ...

    def on_throttled(self, bucket: Bucket, retry_after: float | None) -> None:
        """The service answered 429 with this ``Retry-After`` (None: header missing)."""
        ...

    def on_success(self, bucket: Bucket) -> None:
        """The service answered (anything but 429): the request counted and was accepted."""
        ...

    def statistics(self) -> dict[str, BucketStats]: ...
