"""Throttling, server faults and fatal answers, against the sandbox over loopback."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from pydantic import SecretStr

from batcher import AuthenticationError, PlanError, run_batch
from batcher.api.client import MediaMagicClient
from batcher.api.models import AssetRef
from batcher.api.transport import AiohttpApiTransport
from batcher.clock import FakeClock
from batcher.errors import ApiError
from batcher.ratelimit import RateGates
from batcher.retry import Retrier
from batcher.sandbox import SandboxConfig, running_sandbox
from batcher.sandbox.config import FaultSpec, RateLimit
from batcher.summary import EXIT_INCOMPLETE
from tests.fixtures.sandbox import MakeSandbox
from tests.integration.helpers import fast_settings, read_report
from tests.media import write_manifest, write_media

pytestmark = pytest.mark.anyio


def _files(tmp_path: Path, n: int, big_every: int = 0) -> Path:
    rows = []
    for i in range(n):
        size = 200_000 if big_every and i % big_every == 0 else 1_500 + i
        rows.append({"path": str(write_media(tmp_path, f"m/f{i}.png", size))})
    return write_manifest(tmp_path, rows)


async def test_429_is_retried_after_retry_after_and_no_request_jumps_the_gate(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _files(tmp_path, 6)
    config = SandboxConfig(
        processing_delay=0.02,
        retry_after_seconds=1,
        rate_limits={
            "upload": RateLimit(rate=4, burst=2),
            "submission_read": RateLimit(rate=5, burst=2),
        },
    )
    clock = FakeClock()  # the Retry-After waits are virtual: client and sandbox share it
    async with running_sandbox(config, clock=clock.wall) as sb:
        settings = fast_settings(sb.base_url, tmp_path, batch_size=2)
        async with clock.autojump():
            summary = await run_batch(manifest, settings, clock=clock)
        violations = list(sb.state.rate_limit_violations)
    assert summary.complete == 6
    assert sum(summary.throttled.values()) > 0  # throttling really happened
    assert violations == []


async def test_server_errors_and_dropped_connections_are_retried(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _files(tmp_path, 10, big_every=3)
    faults = {
        "*": FaultSpec(error_500=0.1, error_502=0.1, drop_before=0.05),
        "blob_put_block": FaultSpec(error_503=0.2, error_500=0.1),
    }
    async with make_sandbox(SandboxConfig(processing_delay=0.02, seed=7, faults=faults)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, direct_max_bytes=100_000, retry_attempts=10)
        summary = await run_batch(manifest, settings)
        injected = sb.state.faults_injected
    lines = read_report(settings.report_path)  # type: ignore[arg-type]
    assert [line["status"] for line in lines] == ["complete"] * 10
    assert summary.retries > 0
    assert injected > 0


@pytest.mark.parametrize(
    ("key", "kind", "message"),
    [
        ("sk_live_unknown", AuthenticationError, "Invalid API key"),
        ("sk_test_expired", AuthenticationError, "This API key has expired"),
        ("sk_test_revoked", AuthenticationError, "This API key has been revoked"),
        ("sk_test_unpaid", PlanError, "Your plan does not include"),
    ],
)
async def test_401_and_402_abort_the_run_and_every_row_is_still_reported(
    make_sandbox: MakeSandbox, tmp_path: Path, key: str, kind: type[Exception], message: str
) -> None:
    manifest = _files(tmp_path, 4)
    config = SandboxConfig(
        expired_keys=frozenset({"sk_test_expired"}),
        revoked_keys=frozenset({"sk_test_revoked"}),
        unpaid_keys=frozenset({"sk_test_unpaid"}),
    )
    async with make_sandbox(config) as sb:
        settings = fast_settings(sb.base_url, tmp_path, api_key=SecretStr(key))
        with pytest.raises(kind, match=message) as info:
            await run_batch(manifest, settings)
    assert key not in str(info.value)
    lines = read_report(settings.report_path)  # type: ignore[arg-type]
    assert [line["row"] for line in lines] == [1, 2, 3, 4]
    assert all(line["status"] == "error" for line in lines)
    assert {line["error"]["code"] for line in lines} == {"aborted"}


async def test_submission_with_an_unknown_blob_path_is_refused_403(
    make_sandbox: MakeSandbox,
) -> None:
    import aiohttp

    async with make_sandbox(SandboxConfig()) as sb, aiohttp.ClientSession() as session:
        client = MediaMagicClient(
            AiohttpApiTransport(session, sb.base_url),
            api_key=SecretStr("sk_test_sandbox"),
            gates=RateGates(),
            retrier=Retrier(),
        )
        with pytest.raises(ApiError) as info:
            await client.create_submission([AssetRef(blob_path="nope/never-uploaded.png")])
    assert info.value.http_status == 403
    assert info.value.code == "invalid_blob_path"


async def test_ambiguous_create_never_duplicates_and_never_loses_a_row(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _files(tmp_path, 8)
    faults = {"create_submission": FaultSpec(drop_after=0.5)}
    async with make_sandbox(SandboxConfig(processing_delay=0.02, seed=3, faults=faults)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, batch_size=2, batch_linger=30)
        await run_batch(manifest, settings)
        hashes = dict(sb.state.submitted_content_hashes)
        created = sb.state.created_submissions
    lines = read_report(settings.report_path)  # type: ignore[arg-type]
    assert [line["row"] for line in lines] == list(range(1, 9))
    # A file is submitted twice only when its line says it was resubmitted after a lost create.
    noted = [line for line in lines if line["notes"]]
    assert sum(n - 1 for n in hashes.values()) == len(noted)
    assert all(n["code"] == "resubmitted_after_ambiguous_create" for x in noted for n in x["notes"])
    outcomes = {line["error"]["code"] if line["error"] else line["status"] for line in lines}
    # The seeded storm cuts some creates; the resend (409) and the marked resubmission give
    # every row its result: no row may end as a transport error or unconfirmed.
    assert outcomes == {"complete"}
    assert noted, "the storm cut no create: the test no longer tests the ambiguous case"
    complete_ids = {line["submissionId"] for line in lines if line["status"] == "complete"}
    assert len(complete_ids) <= created


async def test_ten_percent_faults_on_every_endpoint_still_report_every_row_correctly(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _files(tmp_path, 16, big_every=4)
    every = FaultSpec(
        error_500=0.025,
        error_502=0.025,
        error_503=0.02,
        drop_before=0.015,
        drop_after=0.01,
        latency_seconds=0.0,
    )
    config = SandboxConfig(
        processing_delay=0.02,
        seed=11,
        faults={"*": every},
        retry_after_seconds=1,
        rate_limits={"submission_read": RateLimit(rate=20, burst=3)},
    )
    clock = FakeClock()
    async with running_sandbox(config, clock=clock.wall) as sb:
        settings = fast_settings(
            sb.base_url, tmp_path, direct_max_bytes=100_000, retry_attempts=12, batch_size=4
        )
        async with clock.autojump():
            summary = await run_batch(manifest, settings, clock=clock)
        state = sb.state
    lines = read_report(settings.report_path)  # type: ignore[arg-type]
    assert [line["row"] for line in lines] == list(range(1, 17))
    for line in lines:
        # Only an ambiguous create may keep a row from completing, and then it says so.
        assert line["status"] == "complete" or line["error"]["code"] == "submission_unconfirmed"
    assert state.faults_injected >= 5
    resubmitted = sum(1 for line in lines if line["notes"])  # submitted twice, and marked
    assert sum(n - 1 for n in state.submitted_content_hashes.values()) == resubmitted
    assert state.rate_limit_violations == []
    assert summary.rows == 16


async def test_one_stuck_endpoint_cannot_hang_the_run(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _files(tmp_path, 3)
    # E6 answers only after 5 s; the per-request timeout is 0.3 s and the row's budget small.
    faults = {"get_asset": FaultSpec(latency_seconds=5)}
    async with make_sandbox(SandboxConfig(processing_delay=0.02, faults=faults)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, request_timeout=0.3, retry_attempts=2)
        with anyio.fail_after(20):
            summary = await run_batch(manifest, settings)
    lines = read_report(settings.report_path)  # type: ignore[arg-type]
    # A row whose E5 entry says "complete, 0 issues" needs no E6 (request economy); every
    # other row's E6 is stuck and must end as a timeout, not hang the run.
    stuck = [line for line in lines if line["status"] != "complete"]
    assert all(line["issueCount"] == 0 for line in lines if line["status"] == "complete")
    assert stuck, "every row skipped E6: the test no longer tests a stuck endpoint"
    assert [line["error"]["code"] for line in stuck] == ["timeout"] * len(stuck)
    assert all(line["error"]["stage"] == "poll" for line in stuck)
    assert summary.exit_code == EXIT_INCOMPLETE  # retryable: the next run polls them again
