"""The API models against answers recorded from the documentation's examples."""

from __future__ import annotations

import pytest

from batcher.api.models import (
    AssetRef,
    AssetResult,
    CreateSubmissionRequest,
    SubmissionCreated,
    SubmissionStatus,
    UploadUrlResponse,
)

UPLOAD_URL = """{
"uploadUrl": "https://acct.blob.core.windows.net/assets/p?sv=1&sig=SECRET",
"blobPath": "660e8400-e29b-41d4-a716-446655440000/campaign-video.mp4",
"expiresAt": "2026-06-03T13:00:00Z"
}"""
CREATED = """{
"submissionId": "550e8400-e29b-41d4-a716-446655440000",
"workflowId": "asset-processing-...",
"ablyChannel": "submission:550e8400-...",
"status": "submitted",
"assets": [
{ "assetId": "a1b2", "versionGroupId": "g1", "versionNumber": 1 }
]
}"""
STATUS = """{
"submissionId": "550e8400-...",
"workflowId": "asset-processing-...",
"workspaceId": "660e8400-...",
"status": "processing",
"progressPercent": 40,
"createdAt": "2026-06-03T12:00:00Z",
"completedAt": null,
"errorMessage": null,
"assets": [
{
"assetId": "a1b2",
"versionGroupId": "g1",
"versionNumber": 1,
"issueCount": null,
"errorMessage": null,
"errorType": null,
"isRetryable": false,
"retryCount": 0
}
],
"isRetryable": false
}"""
RESULT = """{
"assetId": "a1b2",
"submissionId": "550e8400-...",
"filename": "campaign-video.mp4",
"mimeType": "video/mp4",
"status": "complete",
"issueCount": 2,
"versionNumber": 1,
"versionGroupId": "g1",
"issues": [
{
"id": "i1",
"referenceNumber": 1,
"ruleCode": "CAP_8.4",
"summary": "Unsubstantiated pricing claim",
"severity": "MAJOR",
"status": "OPEN"
}
]
}"""


def test_the_documented_answers_parse() -> None:
    url = UploadUrlResponse.model_validate_json(UPLOAD_URL)
    assert url.blob_path.endswith("/campaign-video.mp4")
    assert "SECRET" not in repr(url)  # the SAS URL is kept out of reprs
    created = SubmissionCreated.model_validate_json(CREATED)
    assert created.submission_id.startswith("550e8400")
    assert [a.asset_id for a in created.assets] == ["a1b2"]
    status = SubmissionStatus.model_validate_json(STATUS)
    assert not status.terminal and status.progress_percent == 40
    assert status.assets[0].issue_count is None and status.assets[0].retry_count == 0
    result = AssetResult.model_validate_json(RESULT)
    assert result.status == "complete" and result.issues[0]["ruleCode"] == "CAP_8.4"


def test_unknown_answer_fields_are_ignored_so_a_new_field_cannot_break_a_run() -> None:
    created = SubmissionCreated.model_validate_json(CREATED[:-1] + ', "newField": {"x": 1}}')
    assert created.assets[0].version_number == 1


def test_requests_use_the_wire_names_and_send_only_what_the_docs_allow() -> None:
    body = CreateSubmissionRequest(assets=[AssetRef(blob_path="ws/a.mp4")]).wire()
    assert body == {"assets": [{"blobPath": "ws/a.mp4"}]}
    with pytest.raises(ValueError, match="extra"):
        AssetRef.model_validate({"blob_path": "ws/a.mp4", "filename": "a.mp4"})
