"""Rate limits (429 + Retry-After, violation bookkeeping) and seeded fault injection."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import aiohttp
import pytest

from batcher.sandbox import FaultSpec, RateLimit, SandboxConfig, running_sandbox
from tests.fixtures.sandbox import API, MakeSandbox, http_for, sample

pytestmark = pytest.mark.anyio

PDF = "application/pdf"
MISSING = f"{API}/submissions/00000000-0000-4000-8000-000000000000"


class StepClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_over_the_limit_is_429_with_retry_after_and_early_retries_are_recorded() -> None:
    clock = StepClock()
    config = SandboxConfig(
        rate_limits={"submission_read": RateLimit(rate=1, burst=2)}, retry_after_seconds=2
    )
    async with running_sandbox(config, clock=clock) as sb, http_for(sb) as http:
        first, second, third = [await http.request("GET", MISSING) for _ in range(3)]
        assert [first.status, second.status] == [404, 404]
        assert third.status == 429
        assert third.headers["Retry-After"] == "2"
        assert third.json() == {"error": "Rate limit exceeded: too many submission_read requests"}
        assert "X-RateLimit-Limit" not in third.headers
        assert sb.state.rate_limit_violations == []

        # Another bucket is not affected.
        await http.upload_url("free.pdf", PDF)

        clock.now += 1  # too early: Retry-After said 2 seconds
        early = await http.request("GET", MISSING)
        assert early.status == 404  # a token refilled, but the client still jumped the gate
        [violation] = sb.state.rate_limit_violations
        assert (violation.bucket, violation.endpoint) == ("submission_read", "get_submission")
        assert violation.early_by_seconds == pytest.approx(1.0)

        clock.now += 2
        assert (await http.request("GET", MISSING)).status == 404
        assert len(sb.state.rate_limit_violations) == 1
        assert sb.state.rate_limited["submission_read"] == 1


async def test_requests_in_flight_at_the_429_are_not_violations_but_hammering_is() -> None:
    clock = StepClock()
    config = SandboxConfig(
        rate_limits={"submission_read": RateLimit(rate=0.01, burst=1)},
        retry_after_seconds=1,
        rate_limit_grace_seconds=0.25,
    )
    async with running_sandbox(config, clock=clock) as sb, http_for(sb) as http:
        assert (await http.request("GET", MISSING)).status == 404
        assert (await http.request("GET", MISSING)).status == 429
        clock.now += 0.1  # a concurrent request that was already on its way
        assert (await http.request("GET", MISSING)).status == 429
        assert sb.state.rate_limit_violations == []
        for _ in range(3):  # a client that ignores Retry-After
            clock.now += 0.1
            await http.request("GET", MISSING)
        assert len(sb.state.rate_limit_violations) == 2  # at +0.3 and +0.4; +0.2 is in grace


async def test_write_bucket_covers_create_and_retry(make_sandbox: MakeSandbox) -> None:
    config = SandboxConfig(rate_limits={"submission_write": RateLimit(rate=0.001, burst=1)})
    async with make_sandbox(config) as sb, http_for(sb) as http:
        path = await http.upload("w.pdf", PDF, sample(PDF))
        assert (await http.submit(path)).status == 201
        retry = await http.request(
            "POST", f"{MISSING}/assets/00000000-0000-4000-8000-000000000001/retry"
        )
        create = await http.submit(path)
    assert retry.status == 429
    assert create.status == 429
    assert retry.json()["error"] == "Rate limit exceeded: too many submission_write requests"


async def _statuses(config: SandboxConfig, n: int) -> list[int]:
    async with running_sandbox(config) as sb, http_for(sb) as http:
        return [(await http.request("GET", MISSING)).status for _ in range(n)]


async def test_seeded_faults_happen_and_are_reproducible() -> None:
    faults = {"get_submission": FaultSpec(error_500=0.3, error_502=0.3)}
    first = await _statuses(SandboxConfig(seed=11, faults=faults), 30)
    again = await _statuses(SandboxConfig(seed=11, faults=faults), 30)
    other = await _statuses(SandboxConfig(seed=12, faults=faults), 30)
    assert first == again
    assert first != other
    assert {404, 500, 502} <= set(first)


async def test_fault_bodies_have_the_documented_shapes(make_sandbox: MakeSandbox) -> None:
    faults = {"upload_url": FaultSpec(error_500=1.0), "get_submission": FaultSpec(error_502=1.0)}
    async with make_sandbox(SandboxConfig(faults=faults)) as sb, http_for(sb) as http:
        e500 = await http.request("POST", f"{API}/uploads/url", json={})
        e502 = await http.request("GET", MISSING)
    assert e500.status == 500
    assert isinstance(e500.json()["detail"], str)
    assert e502.status == 502
    assert isinstance(e502.json()["detail"], str)
    assert sb.state.faults_injected == 2
    assert sb.state.fault_counts == {"upload_url:error_500": 1, "get_submission:error_502": 1}


async def test_wildcard_faults_apply_to_every_endpoint_unless_overridden(
    make_sandbox: MakeSandbox,
) -> None:
    faults = {"*": FaultSpec(error_503=1.0), "upload_url": FaultSpec()}
    async with make_sandbox(SandboxConfig(faults=faults)) as sb, http_for(sb) as http:
        grant = await http.upload_url("ok.pdf", PDF)
        read = await http.request("GET", MISSING)
        blob = await http.put_blob(grant["uploadUrl"], b"%PDF-1")
    assert read.status == 503
    assert blob.status == 503
    assert blob.error_code == "ServerBusy"


async def test_blob_faults_speak_azure_and_still_count_the_bytes(make_sandbox: MakeSandbox) -> None:
    faults = {"blob_put_blob": FaultSpec(error_500=1.0)}
    async with make_sandbox(SandboxConfig(faults=faults)) as sb, http_for(sb) as http:
        grant = await http.upload_url("f.pdf", PDF)
        reply = await http.put_blob(grant["uploadUrl"], b"%PDF-" + b"x" * 95)
    assert reply.status == 500
    assert reply.error_code == "OperationTimedOut"
    assert ET.fromstring(reply.body).findtext("Code") == "OperationTimedOut"
    assert sb.state.bytes_received_for(grant["blobPath"]) == 100
    assert sb.state.blobs[grant["blobPath"]].committed_size is None


async def test_drop_before_closes_the_connection_without_handling(
    make_sandbox: MakeSandbox,
) -> None:
    faults = {"create_submission": FaultSpec(drop_before=1.0)}
    async with make_sandbox(SandboxConfig(faults=faults)) as sb, http_for(sb) as http:
        path = await http.upload("d.pdf", PDF, sample(PDF))
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.submit(path)
        assert sb.state.created_submissions == 0
        assert sb.state.requests["create_submission"] == 1


async def test_drop_after_handles_the_request_then_hangs_up(make_sandbox: MakeSandbox) -> None:
    faults = {"create_submission": FaultSpec(drop_after=1.0)}
    async with make_sandbox(SandboxConfig(faults=faults)) as sb, http_for(sb) as http:
        path = await http.upload("amb.pdf", PDF, sample(PDF))
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.submit(path)
        assert sb.state.created_submissions == 1  # the ambiguous case: it exists
        assert sb.state.fault_counts["create_submission:drop_after"] == 1


async def test_latency_is_added_per_endpoint(make_sandbox: MakeSandbox) -> None:
    config = SandboxConfig(faults={"get_submission": FaultSpec(latency_seconds=0.2)})
    async with make_sandbox(config) as sb, http_for(sb) as http:
        started = time.monotonic()
        await http.request("GET", MISSING)
        slow = time.monotonic() - started
        started = time.monotonic()
        await http.upload_url("fast.pdf", PDF)
        fast = time.monotonic() - started
    assert slow >= 0.2
    assert fast < 0.2
