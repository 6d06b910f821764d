"""E4-E7 and E9: validation order, the processing lifecycle, retries and versioning."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from batcher.sandbox import Sandbox, SandboxConfig, findings_for, running_sandbox
from batcher.sandbox.config import DEFAULT_WORKSPACE_ID
from tests.fixtures.sandbox import API, MakeSandbox, SandboxHttp, http_for, sample

pytestmark = pytest.mark.anyio

PDF = "application/pdf"


class StepClock:
    """Wall-clock stand-in that only moves when the test says so."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def stepped() -> AsyncIterator[tuple[Sandbox, SandboxHttp, StepClock]]:
    clock = StepClock()
    config = SandboxConfig(processing_delay=10.0, max_customer_retries=2)
    async with running_sandbox(config, clock=clock) as sb, http_for(sb) as http:
        yield sb, http, clock


async def _created(
    http: SandboxHttp, *assets: dict[str, Any] | str, query: str = ""
) -> dict[str, Any]:
    reply = await http.submit(*assets, query=query)
    assert reply.status == 201, reply.body
    body: dict[str, Any] = reply.json()
    return body


async def test_create_returns_the_documented_model(
    sandbox: Sandbox, sandbox_http: SandboxHttp
) -> None:
    path = await sandbox_http.upload("a.pdf", PDF, sample(PDF))
    body = await _created(sandbox_http, path)
    submission_id = body["submissionId"]
    assert uuid.UUID(submission_id).version == 4
    assert body["workflowId"].startswith("asset-processing-")
    assert body["ablyChannel"] == f"submission:{submission_id}"
    assert body["status"] == "submitted"
    [asset] = body["assets"]
    assert set(asset) == {"assetId", "versionGroupId", "versionNumber"}
    assert asset["versionNumber"] == 1
    assert sandbox.state.created_submissions == 1
    assert sandbox.state.submissions[submission_id].assets[0].blob_path == path


async def test_lifecycle_moves_from_submitted_through_processing_to_complete(
    stepped: tuple[Sandbox, SandboxHttp, StepClock],
) -> None:
    _, http, clock = stepped
    data = sample(PDF, b"lifecycle")
    path = await http.upload("life.pdf", PDF, data)
    created = await _created(http, path)
    sid, aid = created["submissionId"], created["assets"][0]["assetId"]

    first = await http.status(sid)
    assert (first["status"], first["progressPercent"], first["workflowId"]) == (
        "submitted",
        0,
        None,
    )
    assert first["workspaceId"] == DEFAULT_WORKSPACE_ID
    assert first["completedAt"] is None
    clock.now += 5
    middle = await http.status(sid)
    assert middle["status"] == "processing"
    assert 0 < middle["progressPercent"] < 100
    assert middle["workflowId"] == created["workflowId"]
    assert middle["assets"][0]["issueCount"] is None
    pending = await http.request("GET", f"{API}/submissions/{sid}/assets/{aid}")
    assert pending.json()["status"] == "processing"
    assert (pending.json()["issueCount"], pending.json()["issues"]) == (None, [])
    issues_pending = await http.request("GET", f"{API}/submissions/{sid}/assets/{aid}/issues")
    assert issues_pending.status == 404

    clock.now += 5
    done = await http.status(sid)
    expected = findings_for(hashlib.sha256(data).digest())
    assert done["status"] == "complete"
    assert done["progressPercent"] == 100
    assert done["completedAt"] is not None
    assert done["errorMessage"] is None
    assert done["isRetryable"] is False
    assert done["assets"] == [
        {
            "assetId": aid,
            "versionGroupId": created["assets"][0]["versionGroupId"],
            "versionNumber": 1,
            "issueCount": len(expected),
            "errorMessage": None,
            "errorType": None,
            "isRetryable": False,
            "retryCount": 0,
        }
    ]
    detail = (await http.request("GET", f"{API}/submissions/{sid}/assets/{aid}")).json()
    assert detail == {
        "assetId": aid,
        "submissionId": sid,
        "filename": "life.pdf",
        "mimeType": PDF,
        "status": "complete",
        "issueCount": len(expected),
        "versionNumber": 1,
        "versionGroupId": created["assets"][0]["versionGroupId"],
        "issues": expected,
    }
    issues = await http.request("GET", f"{API}/submissions/{sid}/assets/{aid}/issues")
    assert (issues.status, issues.json()) == (200, expected)


async def test_simulation_delay_postpones_the_terminal_state(
    stepped: tuple[Sandbox, SandboxHttp, StepClock],
) -> None:
    _, http, clock = stepped
    path = await http.upload("slow.pdf", PDF, sample(PDF))
    sid = (await _created(http, path, query="?simulationDelaySeconds=30"))["submissionId"]
    clock.now += 39
    assert (await http.status(sid))["status"] == "processing"
    clock.now += 1
    assert (await http.status(sid))["status"] == "complete"


@pytest.mark.parametrize("value", ["31", "-1", "abc", "1.5"])
async def test_simulation_delay_out_of_range_is_422(sandbox_http: SandboxHttp, value: str) -> None:
    path = await sandbox_http.upload("d.pdf", PDF, sample(PDF))
    reply = await sandbox_http.submit(path, query=f"?simulationDelaySeconds={value}")
    assert reply.status == 422
    assert reply.json()["detail"][0]["loc"] == ["query", "simulationDelaySeconds"]


async def test_simulation_delay_with_a_live_key_is_400(make_sandbox: MakeSandbox) -> None:
    live = "sk_live_" + "c" * 64
    async with (
        make_sandbox(SandboxConfig(live_keys=frozenset({live}))) as sb,
        http_for(sb, live) as http,
    ):
        path = await http.upload("live.pdf", PDF, sample(PDF))
        reply = await http.submit(path, query="?simulationDelaySeconds=3")
        plain = await http.submit(path)
    assert reply.status == 400
    assert isinstance(reply.json()["detail"], str)
    assert plain.status == 201


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"assets": []},
        {"assets": [{"blobPath": "x/a.pdf", "filename": "a.pdf"}]},
        {"assets": [{"blobPath": "x/a.pdf", "contentType": PDF}]},
        {"assets": [{}]},
        {"assets": [{"blobPath": "x/a.pdf", "previousSubmissionId": "not-a-uuid"}]},
        {"assets": [{"blobPath": "x/a.pdf"}], "sidekickIds": ["nope"]},
        {"assets": [{"blobPath": "x/a.pdf"}], "metadata": "flat"},
        {"assets": "x/a.pdf"},
    ],
)
async def test_malformed_bodies_are_422(sandbox_http: SandboxHttp, body: dict[str, Any]) -> None:
    reply = await sandbox_http.request("POST", f"{API}/submissions", json=body)
    assert reply.status == 422
    for error in reply.json()["detail"]:
        assert error["loc"][0] == "body"


async def test_sidekicks_and_metadata_are_accepted(
    sandbox: Sandbox, sandbox_http: SandboxHttp
) -> None:
    path = await sandbox_http.upload("meta.pdf", PDF, sample(PDF))
    body = {
        "assets": [{"blobPath": path}],
        "sidekickIds": [str(uuid.uuid4())],
        "metadata": {"campaign": "x"},
    }
    reply = await sandbox_http.request("POST", f"{API}/submissions", json=body)
    assert reply.status == 201
    assert sandbox.state.submissions[reply.json()["submissionId"]].metadata == {"campaign": "x"}


async def test_unknown_or_uncommitted_blob_path_is_403(sandbox_http: SandboxHttp) -> None:
    never_issued = await sandbox_http.submit(f"{DEFAULT_WORKSPACE_ID}/never.pdf")
    issued_only = (await sandbox_http.upload_url("issued.pdf", PDF))["blobPath"]
    not_uploaded = await sandbox_http.submit(issued_only)
    assert (never_issued.status, never_issued.json()) == (403, {"detail": "Invalid blob path"})
    assert (not_uploaded.status, not_uploaded.json()) == (403, {"detail": "Invalid blob path"})


async def test_blob_path_of_another_workspace_is_403(make_sandbox: MakeSandbox) -> None:
    other = "sk_test_other_workspace"
    config = SandboxConfig(key_workspaces={other: str(uuid.uuid4())})
    async with make_sandbox(config) as sb, http_for(sb) as mine, http_for(sb, other) as theirs:
        path = await mine.upload("mine.pdf", PDF, sample(PDF))
        reply = await theirs.submit(path)
        sid = (await _created(mine, path))["submissionId"]
        foreign_read = await theirs.request("GET", f"{API}/submissions/{sid}")
    assert (reply.status, reply.json()) == (403, {"detail": "Invalid blob path"})
    assert foreign_read.status == 404


async def test_resubmitting_a_blob_path_is_409_asset_already_submitted(
    sandbox: Sandbox, sandbox_http: SandboxHttp
) -> None:
    path = await sandbox_http.upload("twice.pdf", PDF, sample(PDF))
    await _created(sandbox_http, path)
    again = await sandbox_http.submit(path)
    in_one = await sandbox_http.submit(
        await sandbox_http.upload("dup.pdf", PDF, sample(PDF, b"2")), "placeholder"
    )
    assert again.status == 409
    assert again.json() == {
        "detail": "Asset already submitted",
        "docs_url": "https://docs.mediamagic.app/concepts/assets",
    }
    assert in_one.status == 403  # the second asset decides: it was never issued
    assert sandbox.state.created_submissions == 1
    assert sandbox.state.duplicate_content_hashes() == []


async def test_same_path_twice_in_one_submission_is_409(sandbox_http: SandboxHttp) -> None:
    path = await sandbox_http.upload("same.pdf", PDF, sample(PDF))
    reply = await sandbox_http.submit(path, path)
    assert reply.status == 409


async def test_all_or_nothing_the_first_failing_asset_decides(
    sandbox: Sandbox, sandbox_http: SandboxHttp
) -> None:
    good = await sandbox_http.upload("good.pdf", PDF, sample(PDF))
    mislabelled = await sandbox_http.upload("fake.pdf", PDF, b"GIF89a not a pdf")
    reply = await sandbox_http.submit(good, mislabelled, f"{DEFAULT_WORKSPACE_ID}/missing.pdf")
    assert reply.status == 415
    assert sandbox.state.submissions == {}
    assert (await sandbox_http.submit(good)).status == 201  # nothing was consumed


async def test_unknown_previous_submission_is_404(sandbox_http: SandboxHttp) -> None:
    path = await sandbox_http.upload("v2.pdf", PDF, sample(PDF))
    reply = await sandbox_http.submit({"blobPath": path, "previousSubmissionId": str(uuid.uuid4())})
    assert reply.status == 404


async def test_blob_over_its_category_cap_is_413(make_sandbox: MakeSandbox) -> None:
    caps = {"video": 100, "audio": 100, "image": 20, "document": 100}
    async with make_sandbox(SandboxConfig(category_max_bytes=caps)) as sb, http_for(sb) as http:
        at_cap = await http.upload("ok.png", "image/png", sample("image/png").ljust(20, b"\0"))
        over = await http.upload("big.png", "image/png", sample("image/png").ljust(21, b"\0"))
        assert (await http.submit(at_cap)).status == 201
        reply = await http.submit(over)
    assert reply.status == 413


async def test_default_caps_are_decimal_units() -> None:
    assert SandboxConfig().category_max_bytes == {
        "video": 5_000_000_000,
        "audio": 500_000_000,
        "image": 50_000_000,
        "document": 100_000_000,
    }


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("video/mp4", b"%PDF-1.7 not a video"),
        ("image/png", b"\xff\xd8\xff\xe0 jpeg bytes"),
        ("text/plain", b"binary\x00zero"),
        ("text/plain", b"\xff\xfe invalid utf-8"),
        ("application/pdf", b""),
    ],
)
async def test_bytes_not_matching_the_declared_type_are_415(
    sandbox_http: SandboxHttp, content_type: str, data: bytes
) -> None:
    path = await sandbox_http.upload("file.bin", content_type, data)
    reply = await sandbox_http.submit(path)
    assert reply.status == 415


async def test_max_assets_per_submission_is_422_when_configured(make_sandbox: MakeSandbox) -> None:
    async with make_sandbox(SandboxConfig(max_assets_per_submission=2)) as sb, http_for(sb) as http:
        paths = [await http.upload(f"{i}.pdf", PDF, sample(PDF, bytes([i]))) for i in range(3)]
        reply = await http.submit(*paths)
        ok = await http.submit(*paths[:2])
    assert reply.status == 422
    assert ok.status == 201


async def test_flaky_asset_fails_retryable_then_completes_after_retry(
    stepped: tuple[Sandbox, SandboxHttp, StepClock],
) -> None:
    _, http, clock = stepped
    path = await http.upload("flaky.pdf", PDF, sample(PDF, b"MM-FLAKY"))
    created = await _created(http, path)
    sid, aid = created["submissionId"], created["assets"][0]["assetId"]
    retry_url = f"{API}/submissions/{sid}/assets/{aid}/retry"
    early = await http.request("POST", retry_url)
    assert early.status == 409  # still processing: not in a failed state

    clock.now += 10
    failed = await http.status(sid)
    assert failed["status"] == "failed"
    assert failed["isRetryable"] is True
    assert failed["errorMessage"]
    [asset] = failed["assets"]
    assert (asset["errorType"], asset["isRetryable"], asset["retryCount"]) == (
        "TransientProcessingError",
        True,
        0,
    )
    assert (await http.request("GET", f"{API}/submissions/{sid}/assets/{aid}")).json()[
        "status"
    ] == "failed"

    retried = await http.request("POST", retry_url)
    assert retried.status == 202
    assert retried.json()["submissionId"] == sid
    assert retried.json()["status"] == "processing"
    assert {"workflowId", "ablyChannel", "assets"} <= set(retried.json())
    in_progress = await http.request("POST", retry_url)
    assert in_progress.status == 409
    clock.now += 1
    assert (await http.status(sid))["status"] == "processing"

    clock.now += 10
    done = await http.status(sid)
    assert done["status"] == "complete"
    assert done["assets"][0]["retryCount"] == 1
    assert done["assets"][0]["errorType"] is None
    assert (await http.request("POST", retry_url)).status == 409  # complete: nothing to retry


async def test_broken_asset_fails_for_good_and_retry_is_409(
    stepped: tuple[Sandbox, SandboxHttp, StepClock],
) -> None:
    _, http, clock = stepped
    good = await http.upload("fine.pdf", PDF, sample(PDF))
    broken = await http.upload("broken.pdf", PDF, sample(PDF, b"xxMM-BROKENxx"))
    created = await _created(http, good, broken)
    sid = created["submissionId"]
    clock.now += 10
    status = await http.status(sid)
    assert status["status"] == "failed"
    assert status["isRetryable"] is False
    assert [a["isRetryable"] for a in status["assets"]] == [False, False]
    assert status["assets"][0]["issueCount"] is not None
    assert status["assets"][1]["errorType"] is not None
    aid = created["assets"][1]["assetId"]
    reply = await http.request("POST", f"{API}/submissions/{sid}/assets/{aid}/retry")
    assert reply.status == 409
    assert isinstance(reply.json()["detail"], str)


async def test_retry_cap_is_enforced() -> None:
    clock = StepClock()
    config = SandboxConfig(processing_delay=1.0, max_customer_retries=0)
    async with running_sandbox(config, clock=clock) as sb, http_for(sb) as http:
        path = await http.upload("capped.pdf", PDF, sample(PDF, b"MM-FLAKY"))
        created = await _created(http, path)
        clock.now += 1
        sid, aid = created["submissionId"], created["assets"][0]["assetId"]
        status = await http.status(sid)
        reply = await http.request("POST", f"{API}/submissions/{sid}/assets/{aid}/retry")
    assert status["isRetryable"] is False
    assert reply.status == 409


async def test_previous_submission_links_into_its_version_group(sandbox_http: SandboxHttp) -> None:
    v1 = await _created(
        sandbox_http, await sandbox_http.upload("ad-v1.pdf", PDF, sample(PDF, b"1"))
    )
    path2 = await sandbox_http.upload("ad-v2.pdf", PDF, sample(PDF, b"2"))
    v2 = await _created(
        sandbox_http, {"blobPath": path2, "previousSubmissionId": v1["submissionId"]}
    )
    path3 = await sandbox_http.upload("ad-v3.pdf", PDF, sample(PDF, b"3"))
    v3 = await _created(
        sandbox_http, {"blobPath": path3, "previousSubmissionId": v2["submissionId"]}
    )
    group = v1["assets"][0]["versionGroupId"]
    assert [v["assets"][0]["versionGroupId"] for v in (v1, v2, v3)] == [group] * 3
    assert [v["assets"][0]["versionNumber"] for v in (v1, v2, v3)] == [1, 2, 3]
    fresh = await _created(
        sandbox_http, await sandbox_http.upload("other.pdf", PDF, sample(PDF, b"4"))
    )
    assert fresh["assets"][0]["versionGroupId"] != group


async def test_unknown_or_foreign_ids_are_404(sandbox_http: SandboxHttp) -> None:
    sid = (await _created(sandbox_http, await sandbox_http.upload("x.pdf", PDF, sample(PDF))))[
        "submissionId"
    ]
    missing = str(uuid.uuid4())
    for path in (
        f"{API}/submissions/{missing}",
        f"{API}/submissions/{sid}/assets/{missing}",
        f"{API}/submissions/{sid}/assets/{missing}/issues",
    ):
        assert (await sandbox_http.request("GET", path)).status == 404
    assert (
        await sandbox_http.request("POST", f"{API}/submissions/{sid}/assets/{missing}/retry")
    ).status == 404


async def test_real_clock_fixture_completes_quickly(sandbox_http: SandboxHttp) -> None:
    path = await sandbox_http.upload("quick.pdf", PDF, sample(PDF))
    sid = (await _created(sandbox_http, path))["submissionId"]
    assert (await sandbox_http.wait_terminal(sid))["status"] == "complete"
