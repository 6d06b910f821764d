"""A verified delivery, as the pollers need it.

The envelope is ``{"id", "type", "timestamp", "data"}`` with snake_case ``data`` carrying
IDs and, on failures, the error fields; never results (those come from E6). Parsed
leniently: only the IDs are required.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from batcher.api.models import AssetStatus

COMPLETED = "asset.processing.completed"
FAILED = "asset.processing.failed"


class _EventData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    submission_id: str
    asset_id: str
    status: str | None = None
    error_message: str | None = None
    error_type: str | None = None
    is_retryable: bool | None = None
    retry_count: int = 0
    version_group_id: str | None = None
    version_number: int | None = None


class AssetEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    type: str
    timestamp: str | None = None
    data: _EventData

    def wakeup(self) -> Wakeup:
        data = self.data
        status = {COMPLETED: "complete", FAILED: "failed"}.get(self.type, data.status or "")
        item = None
        if status == "failed" and data.is_retryable is not None:
            # What E5's asset item would say about this failure: the poller then needs no
            # status read to decide on a retry.
            item = AssetStatus(
                asset_id=data.asset_id,
                version_group_id=data.version_group_id,
                version_number=data.version_number,
                error_message=data.error_message,
                error_type=data.error_type,
                is_retryable=data.is_retryable,
                retry_count=data.retry_count,
                status="failed",
            )
        return Wakeup(data.submission_id, data.asset_id, status, item)


@dataclass(frozen=True)
class Wakeup:
    """Fetch this asset's result now. ``item`` stands in for its E5 entry (failures whose
    event says whether they are retryable); None means E5 must be read if it is needed."""

    submission_id: str
    asset_id: str
    status: str
    item: AssetStatus | None = None
