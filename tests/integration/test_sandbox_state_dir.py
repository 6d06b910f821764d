"""``state_dir``: a sandbox restarted on the same directory, even after SIGKILL, still knows
the submissions, blobs, staged blocks, issued paths and subscriptions of the one before."""

from __future__ import annotations

import base64
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from batcher.sandbox import SandboxConfig, running_sandbox
from tests.fixtures.sandbox import API, http_for, sample

pytestmark = pytest.mark.anyio

PDF = "application/pdf"


@asynccontextmanager
async def sandbox_process(state_dir: Path, *extra: str) -> AsyncIterator[str]:
    """``python -m batcher.sandbox --state-dir``; yields its base URL; SIGKILLs it at exit."""
    process = await anyio.open_process(
        [
            sys.executable, "-m", "batcher.sandbox", "--port", "0",
            "--state-dir", str(state_dir), "--processing-delay", "0.2", *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    async with process:
        assert process.stdout is not None
        with anyio.fail_after(15):
            line = b""
            async for chunk in process.stdout:
                line += chunk
                if b"\n" in line:
                    break
        match = re.search(r"(http://127\.0\.0\.1:\d+)\s*$", line.decode().splitlines()[0])
        assert match, line
        try:
            yield match.group(1)
        finally:
            # The point of the test: no cleanup, no flush, no goodbye.
            process.send_signal(signal.SIGKILL)
            with anyio.fail_after(10):
                await process.wait()


def block_id(n: int) -> str:
    return base64.b64encode(f"block-{n:04d}".encode()).decode()


async def test_a_killed_sandbox_comes_back_with_everything_it_acknowledged(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    async with sandbox_process(state, "--sas-permissions", "rcw") as url, http_for(url) as http:
        done = await http.upload("done.pdf", PDF, sample(PDF, b"first"))
        created = (await http.submit(done)).json()
        waiting = await http.upload("waiting.pdf", PDF, sample(PDF, b"second"))
        grant = await http.upload_url("staged.pdf", PDF)
        staged = await http.request(
            "PUT", f"{grant['uploadUrl']}&comp=block&blockid={block_id(0)}", data=sample(PDF)
        )
        assert staged.status == 201
        first_url = url

    async with sandbox_process(state, "--sas-permissions", "rcw") as url, http_for(url) as http:
        # The old SAS URL still verifies (the signing key is kept); only the port moved.
        sas_url = grant["uploadUrl"].replace(first_url, url)
        status = await http.wait_terminal(created["submissionId"])
        assert status["status"] == "complete"
        again = await http.submit(done)
        assert (again.status, again.json()["detail"]) == (409, "Asset already submitted")
        # An issued path with a committed blob from the first life is still submittable.
        later = await http.submit(waiting)
        assert later.status == 201, later.body
        listed = await http.request("GET", f"{sas_url}&comp=blocklist&blocklisttype=all")
        assert listed.status == 200
        assert block_id(0) in listed.body.decode()
        commit = await http.request(
            "PUT",
            f"{sas_url}&comp=blocklist",
            data=f"<BlockList><Latest>{block_id(0)}</Latest></BlockList>".encode(),
        )
        assert commit.status == 201
        read = await http.request("GET", sas_url)
        assert read.body == sample(PDF)
        version = await http.submit(
            {"blobPath": grant["blobPath"], "previousSubmissionId": created["submissionId"]}
        )
        assert version.json()["assets"][0]["versionNumber"] == 2


async def test_retries_subscriptions_and_timestamps_survive_a_clean_restart(
    tmp_path: Path,
) -> None:
    config = SandboxConfig(processing_delay=0.05, state_dir=tmp_path / "s")
    async with running_sandbox(config) as sb, http_for(sb) as http:
        path = await http.upload("flaky.pdf", PDF, sample(PDF, b"MM-FLAKY"))
        created = (await http.submit(path)).json()
        sid, aid = created["submissionId"], created["assets"][0]["assetId"]
        assert (await http.wait_terminal(sid))["status"] == "failed"
        retry = await http.request("POST", f"{API}/submissions/{sid}/assets/{aid}/retry")
        assert retry.status == 202
        sub = await http.request(
            "POST",
            f"{API}/webhooks/subscriptions",
            json={
                "endpointUrl": "https://example.com/h",
                "eventTypes": ["asset.processing.failed"],
            },
        )
        gone = await http.request(
            "POST",
            f"{API}/webhooks/subscriptions",
            json={
                "endpointUrl": "https://example.com/x",
                "eventTypes": ["asset.processing.failed"],
            },
        )
        deleted = await http.request("DELETE", f"{API}/webhooks/subscriptions/{gone.json()['id']}")
        assert deleted.status == 204
        before = await http.status(sid)

    async with running_sandbox(config) as sb2, http_for(sb2) as http:
        after = await http.wait_terminal(sid)
        subs = (await http.request("GET", f"{API}/webhooks/subscriptions")).json()
    assert after["status"] == "complete"
    assert after["assets"][0]["retryCount"] == 1
    assert after["createdAt"] == before["createdAt"]
    assert [s["id"] for s in subs["subscriptions"]] == [sub.json()["id"]]
    assert sb2.state.created_submissions == 0  # counters are per process
    assert sb2.state.submissions[sid].assets[0].blob_path == path
    # The secret was kept (the service must keep it to sign) but is never shown again.
    assert sb2.state.webhook_subscriptions[sub.json()["id"]].secret == sub.json()["secret"]
    assert "secret" not in subs["subscriptions"][0]


async def test_a_torn_last_record_and_stray_part_files_are_tolerated(tmp_path: Path) -> None:
    config = SandboxConfig(processing_delay=0.05, state_dir=tmp_path / "s")
    async with running_sandbox(config) as sb, http_for(sb) as http:
        path = await http.upload("kept.pdf", PDF, sample(PDF))
    journal = tmp_path / "s" / "journal.jsonl"
    with journal.open("ab") as fh:
        fh.write(b'{"op":"submission","submission_id":"cut sho')  # a kill mid-write
    stray = tmp_path / "s" / "blobs" / "deadbeef.part"
    stray.write_bytes(b"half a body")
    async with running_sandbox(config) as sb, http_for(sb) as http:
        created = await http.submit(path)
        assert created.status == 201, created.body
    assert not stray.exists()
    assert journal.stat().st_mode & 0o077 == 0  # owner-only: it holds webhook secrets


def test_state_dir_and_storage_dir_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        SandboxConfig(state_dir=tmp_path / "a", storage_dir=tmp_path / "b")
