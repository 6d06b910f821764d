"""Knobs a running sandbox exposes: live rate limits, per-bucket Retry-After, request counts
per bucket, and the shared upload-link pace."""

from __future__ import annotations

import time

import anyio
import pytest

from batcher.sandbox import RateLimit, SandboxConfig, running_sandbox
from tests.fixtures.sandbox import API, http_for, sample

pytestmark = pytest.mark.anyio

PDF = "application/pdf"
MISSING = f"{API}/submissions/00000000-0000-4000-8000-000000000000"


class StepClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_the_limit_changes_mid_run() -> None:
    clock = StepClock()
    async with running_sandbox(SandboxConfig(), clock=clock) as sb, http_for(sb) as http:
        assert sb.rate_limit("submission_read") is None
        assert [(await http.request("GET", MISSING)).status for _ in range(5)] == [404] * 5

        sb.set_rate_limit("submission_read", RateLimit(rate=1, burst=2, retry_after_seconds=7))
        statuses = [(await http.request("GET", MISSING)) for _ in range(3)]
        assert [r.status for r in statuses] == [404, 404, 429]
        assert statuses[2].headers["Retry-After"] == "7"

        clock.now += 7
        sb.set_rate_limit("submission_read", RateLimit(rate=100, burst=100))
        assert [(await http.request("GET", MISSING)).status for _ in range(2)] == [404, 404]
        assert sb.rate_limit("submission_read") == RateLimit(rate=100, burst=100)

        sb.set_rate_limit("submission_read", None)
        assert [(await http.request("GET", MISSING)).status for _ in range(5)] == [404] * 5
    assert sb.state.rate_limited == {"submission_read": 1}
    assert sb.state.rate_limit_violations == []
    assert sb.state.bucket_requests["submission_read"] == 15


async def test_retry_after_is_per_bucket_with_the_config_default() -> None:
    config = SandboxConfig(
        rate_limits={
            "upload": RateLimit(rate=0.001, burst=1, retry_after_seconds=30),
            "submission_read": RateLimit(rate=0.001, burst=1),
        },
        retry_after_seconds=4,
    )
    async with running_sandbox(config) as sb, http_for(sb) as http:
        await http.upload_url("a.pdf", PDF)
        upload = await http.request(
            "POST", f"{API}/uploads/url", json={"filename": "b.pdf", "contentType": PDF}
        )
        await http.request("GET", MISSING)
        read = await http.request("GET", MISSING)
    assert (upload.status, upload.headers["Retry-After"]) == (429, "30")
    assert (read.status, read.headers["Retry-After"]) == (429, "4")


async def test_requests_are_counted_per_bucket() -> None:
    async with running_sandbox(SandboxConfig(processing_delay=0.05)) as sb, http_for(sb) as http:
        path = await http.upload("c.pdf", PDF, sample(PDF))
        created = (await http.submit(path)).json()
        await http.status(created["submissionId"])
        await http.request("GET", MISSING)
        await http.request("GET", f"{API}/webhooks/subscriptions")
    assert sb.state.bucket_requests == {
        "upload": 1,
        "blob": 1,
        "submission_write": 1,
        "submission_read": 2,
        "webhook_read": 1,
    }


async def test_blob_bodies_share_one_paced_link() -> None:
    rate = 4_000_000  # bytes per second
    body = sample(PDF, b"x" * 400_000)
    config = SandboxConfig(blob_bandwidth_bytes_per_s=rate)
    async with running_sandbox(config) as sb, http_for(sb) as http:
        grants = [await http.upload_url(f"bw{i}.pdf", PDF) for i in range(2)]
        statuses: list[int] = []

        async def put(url: str) -> None:
            statuses.append((await http.put_blob(url, body)).status)

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for grant in grants:
                tg.start_soon(put, grant["uploadUrl"])
        elapsed = time.monotonic() - started
        assert sb.blob_bandwidth == rate
        sb.set_blob_bandwidth(None)
        assert sb.blob_bandwidth is None
    assert statuses == [201, 201]
    # Two bodies over one link: together they cannot beat the link (less its small slack).
    assert elapsed >= 2 * len(body) / rate - 0.05
