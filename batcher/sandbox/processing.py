"""The processing model, computed from timestamps on each read (no background tasks).

An asset's latest attempt runs from ``started_at`` for ``duration`` seconds: the first quarter
is "queued" (the submission still reads ``submitted``, progress 0, no workflow yet), then
progress rises to 100 and the attempt ends ``complete`` or ``failed``:
* content containing ``MM-FLAKY`` fails its first attempt with a retryable error;
* content containing ``MM-BROKEN`` fails every attempt, not retryable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from batcher.sandbox.sas import iso_z
from batcher.sandbox.state import AssetRecord, SubmissionRecord

QUEUED_FRACTION = 0.25
FLAKY_MARKER = b"MM-FLAKY"
BROKEN_MARKER = b"MM-BROKEN"

AssetStatus = Literal["processing", "complete", "failed"]


@dataclass(frozen=True)
class AssetView:
    status: AssetStatus
    progress: int  # 0..100
    queued: bool  # still in the first, queued part of its first attempt
    error_type: str | None
    error_message: str | None
    retryable_error: bool
    ended_at: float | None


def asset_view(asset: AssetRecord, now: float) -> AssetView:
    attempt = asset.attempts[-1]
    if now < attempt.ends_at:
        elapsed = now - attempt.started_at
        fraction = elapsed / attempt.duration if attempt.duration > 0 else 1.0
        queued = asset.retry_count == 0 and fraction < QUEUED_FRACTION
        progress = 0 if queued else int(100 * (fraction - QUEUED_FRACTION) / (1 - QUEUED_FRACTION))
        return AssetView("processing", min(progress, 99), queued, None, None, False, None)
    if asset.outcome == "broken":
        return AssetView(
            "failed",
            100,
            False,
            "ContentProcessingError",
            "The file could not be analysed: its content is damaged or unsupported",
            False,
            attempt.ends_at,
        )
    if asset.outcome == "flaky" and asset.retry_count == 0:
        return AssetView(
            "failed",
            100,
            False,
            "TransientProcessingError",
            "A processing step failed temporarily; retry the asset",
            True,
            attempt.ends_at,
        )
    return AssetView("complete", 100, False, None, None, False, attempt.ends_at)


def can_retry_now(asset: AssetRecord, view: AssetView, max_retries: int) -> bool:
    return view.status == "failed" and view.retryable_error and asset.retry_count < max_retries


def submission_status(sub: SubmissionRecord, now: float, max_retries: int) -> dict[str, Any]:
    """The E5 body."""
    views = [asset_view(a, now) for a in sub.assets]
    if any(v.status == "processing" for v in views):
        status = "submitted" if all(v.queued for v in views) else "processing"
    elif any(v.status == "failed" for v in views):
        status = "failed"
    else:
        status = "complete"
    terminal = status in ("complete", "failed")
    failed = sum(1 for v in views if v.status == "failed")
    ended = [v.ended_at for v in views if v.ended_at is not None]
    assets = [
        {
            "assetId": a.asset_id,
            "versionGroupId": a.version_group_id,
            "versionNumber": a.version_number,
            "issueCount": len(a.issues) if v.status == "complete" else None,
            "errorMessage": v.error_message,
            "errorType": v.error_type,
            "isRetryable": can_retry_now(a, v, max_retries),
            "retryCount": a.retry_count,
        }
        for a, v in zip(sub.assets, views, strict=True)
    ]
    return {
        "submissionId": sub.submission_id,
        # Documented as null until processing has started.
        "workflowId": None if status == "submitted" else sub.workflow_id,
        "workspaceId": sub.workspace_id,
        "status": status,
        "progressPercent": sum(v.progress for v in views) // len(views),
        "createdAt": iso_z(sub.created_at),
        "completedAt": iso_z(max(ended)) if terminal and ended else None,
        "errorMessage": f"{failed} of {len(views)} assets failed" if status == "failed" else None,
        "assets": assets,
        "isRetryable": any(a["isRetryable"] for a in assets),
    }


def asset_detail(sub: SubmissionRecord, asset: AssetRecord, now: float) -> dict[str, Any]:
    """The E6 body; results only once the asset is complete."""
    view = asset_view(asset, now)
    done = view.status == "complete"
    return {
        "assetId": asset.asset_id,
        "submissionId": sub.submission_id,
        "filename": asset.filename,
        "mimeType": asset.mime_type,
        "status": view.status,
        "issueCount": len(asset.issues) if done else None,
        "versionNumber": asset.version_number,
        "versionGroupId": asset.version_group_id,
        "issues": list(asset.issues) if done else [],
    }


def create_body(sub: SubmissionRecord, status: str, workflow_id: str) -> dict[str, Any]:
    """The E4 (and E9) body: the 'response model for submission creation'."""
    return {
        "submissionId": sub.submission_id,
        "workflowId": workflow_id,
        "ablyChannel": f"submission:{sub.submission_id}",
        "status": status,
        "assets": [
            {
                "assetId": a.asset_id,
                "versionGroupId": a.version_group_id,
                "versionNumber": a.version_number,
            }
            for a in sub.assets
        ],
    }
