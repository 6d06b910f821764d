"""Webhooks end to end, in process: batcher's HTTPS receiver (a trustme CA's certificate)
and the sandbox delivering signed events to it over loopback."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
import trustme
from standardwebhooks.webhooks import Webhook

from batcher import run_batch
from batcher.config import WebhookSettings
from batcher.sandbox import Sandbox, SandboxConfig, running_sandbox
from batcher.summary import RunSummary
from tests.integration.helpers import expected_issues, fast_settings, read_report
from tests.media import write_manifest, write_media

pytestmark = pytest.mark.anyio

HOOK_PATH = "/hooks/batcher"


@dataclass(frozen=True)
class Tls:
    """A test CA, a server certificate for 127.0.0.1 on disk, and a client context."""

    ca: trustme.CA
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls(ca: trustme.CA, tmp_path: Path) -> Tls:
    return make_tls(ca, tmp_path)


def make_tls(ca: trustme.CA, tmp_path: Path) -> Tls:
    server = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "receiver.pem", tmp_path / "receiver.key"
    server.cert_chain_pems[0].write_to_path(str(cert))
    for extra in server.cert_chain_pems[1:]:
        with cert.open("ab") as fh:
            fh.write(extra.bytes())
    server.private_key_pem.write_to_path(str(key))
    return Tls(ca, cert, key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def hook_settings(tls: Tls, port: int, **kw: Any) -> WebhookSettings:
    values: dict[str, Any] = {
        "url": f"https://127.0.0.1:{port}{HOOK_PATH}",
        "listen_port": port,
        "tls_cert": tls.cert,
        "tls_key": tls.key,
        # Long enough that polling alone could not finish these runs in the time they take.
        "reconcile_first": 60.0,
        "settle_margin": 0.3,
    }
    values.update(kw)
    return WebhookSettings(**values)


@asynccontextmanager
async def hooked_sandbox(tls: Tls, **config: Any) -> AsyncIterator[Sandbox]:
    values: dict[str, Any] = {"processing_delay": 0.3, "webhook_retry_backoff_seconds": 0.05}
    async with running_sandbox(
        SandboxConfig(**(values | config)), webhook_ssl_context=tls.client_context()
    ) as sb:
        yield sb


def media(tmp_path: Path, n: int, **markers: bytes) -> Path:
    """``n`` small PDFs plus one text file per marker (``MM-FLAKY`` / ``MM-BROKEN``)."""
    rows = []
    for i in range(n):
        write_media(tmp_path, f"m/f{i}.pdf", 3_000 + i)
        rows.append({"path": f"m/f{i}.pdf"})
    for name, marker in markers.items():
        write_media(tmp_path, f"m/{name}.txt", 600, marker=marker)
        rows.append({"path": f"m/{name}.txt"})
    return write_manifest(tmp_path, rows)


def assert_correct(tmp_path: Path, lines: list[dict[str, Any]]) -> None:
    for line in lines:
        if line["status"] != "complete":
            continue
        data = (tmp_path / line["path"]).read_bytes()
        assert line["issues"] == expected_issues(data, line["blobPath"]), line


async def test_events_are_verified_and_fetch_results_without_status_reads(
    tls: Tls, tmp_path: Path
) -> None:
    manifest = media(tmp_path, 6, flaky=b"MM-FLAKY ", broken=b"MM-BROKEN ")
    port = free_port()
    async with hooked_sandbox(tls) as sb:
        settings = fast_settings(
            sb.base_url, tmp_path, batch_size=4, webhooks=hook_settings(tls, port)
        )
        started = time.monotonic()
        summary = await run_batch(manifest, settings)
        took = time.monotonic() - started
        state = sb.state
    lines = read_report(tmp_path / "report.jsonl")
    by_name = {Path(line["path"]).stem: line for line in lines}
    assert [by_name[f"f{i}"]["status"] for i in range(6)] == ["complete"] * 6
    assert by_name["flaky"]["status"] == "complete"  # failed event → E9 → completed event
    assert by_name["broken"]["status"] == "failed"
    assert by_name["broken"]["error"]["code"] == "ContentProcessingError"
    assert by_name["broken"]["error"]["retryable"] is False
    assert_correct(tmp_path, lines)
    assert summary.rows == 8
    # Events did the work: no status read at all (failures' events say whether to retry),
    # one E6 per asset end, and far sooner than the 60 s reconciliation.
    assert state.requests["get_submission"] == 1  # the pre-run probe only: no status reads
    assert state.requests["get_asset"] == 9  # 8 assets, the flaky one ended twice
    assert state.requests["retry_asset"] == 1
    assert took < 30
    assert all(n == 1 for n in state.webhook_delivered.values())
    assert len(state.webhook_delivered) == 9
    # One subscription for the run, both event types, named after it, deleted at the end.
    assert state.requests["create_subscription"] == 1
    assert state.requests["delete_subscription"] == 1
    assert state.webhook_subscriptions == {}
    [first] = {e.subscription_ids[0] for e in state.webhook_events}
    assert first


async def _post(url: str, ctx: ssl.SSLContext, body: bytes, headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers, ssl=ctx) as reply,
    ):
        return reply.status


def _signed(
    secret: str, payload: dict[str, Any], at: datetime | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, separators=(",", ":"))
    when = at or datetime.now(UTC)
    signature = Webhook(secret).sign(payload["id"], when, body)
    headers = {
        "content-type": "application/json",
        "webhook-id": payload["id"],
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
    }
    return body.encode(), headers


async def wait_for(check: Callable[[], object], seconds: float = 10) -> None:
    """Wait for the sandbox (or a child process) to get somewhere."""
    with anyio.fail_after(seconds):
        while True:
            if check():
                return
            await anyio.sleep(0.01)


async def test_forged_stale_and_malformed_deliveries_get_401_and_change_nothing(
    tls: Tls, tmp_path: Path
) -> None:
    manifest = media(tmp_path, 1)
    port = free_port()
    url = f"https://127.0.0.1:{port}{HOOK_PATH}"
    statuses: dict[str, int] = {}
    result: dict[str, RunSummary] = {}
    async with hooked_sandbox(tls, processing_delay=3.0) as sb:
        settings = fast_settings(sb.base_url, tmp_path, webhooks=hook_settings(tls, port))

        async def run() -> None:
            result["summary"] = await run_batch(manifest, settings)

        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await wait_for(lambda: sb.state.webhook_subscriptions and sb.state.submissions)
            [sub] = sb.state.webhook_subscriptions.values()
            [record] = sb.state.submissions.values()
            payload: dict[str, Any] = {
                "id": "evt_forged",
                "type": "asset.processing.completed",
                "timestamp": "2026-06-03T12:00:00Z",
                "data": {
                    "submission_id": record.submission_id,
                    "asset_id": record.assets[0].asset_id,
                    "status": "complete",
                },
            }
            client = tls.client_context()
            forged_secret = "whsec_" + "QUJD" * 8
            body, good = _signed(sub.secret, payload)
            cases: dict[str, tuple[bytes, dict[str, str]]] = {
                "forged": _signed(forged_secret, payload),
                "stale": _signed(
                    sub.secret, payload, datetime.fromtimestamp(time.time() - 600, UTC)
                ),
                "future": _signed(
                    sub.secret, payload, datetime.fromtimestamp(time.time() + 600, UTC)
                ),
                "tampered": (body.replace(b"complete", b"failed__"), good),
                "no headers": (body, {"content-type": "application/json"}),
                "no comma": (body, good | {"webhook-signature": "v1garbage"}),
                "not base64": (body, good | {"webhook-signature": "v1,@@@"}),
                "bad timestamp": (body, good | {"webhook-timestamp": "soon"}),
                "not utf-8": (b"\xff\xfe" + body, good),
            }
            for name, (data, headers) in cases.items():
                statuses[name] = await _post(url, client, data, headers)
            # Signed right, but for a submission this run never made: accepted, ignored.
            unknown = "00000000-0000-4000-8000-000000000000"
            stranger = payload | {
                "id": "evt_stranger",
                "data": payload["data"] | {"submission_id": unknown},
            }
            statuses["stranger"] = await _post(url, client, *_signed(sub.secret, stranger))
            fetched_early = sb.state.requests["get_asset"]
            ended_already = bool(sb.state.webhook_events)
    assert {k: v for k, v in statuses.items() if k != "stranger"} == dict.fromkeys(
        statuses.keys() - {"stranger"}, 401
    )
    assert statuses["stranger"] == 204
    assert not ended_already, "the asset ended before the checks: make processing slower"
    assert fetched_early == 0  # nothing was acted on before the real event
    [line] = read_report(tmp_path / "report.jsonl")
    assert line["status"] == "complete"
    assert result["summary"].rows == 1


async def test_duplicate_events_are_acted_on_once(tls: Tls, tmp_path: Path) -> None:
    manifest = media(tmp_path, 5, flaky=b"MM-FLAKY ")
    async with hooked_sandbox(tls, webhook_duplicate=1.0) as sb:
        settings = fast_settings(
            sb.base_url, tmp_path, batch_size=6, webhooks=hook_settings(tls, free_port())
        )
        await run_batch(manifest, settings)
        state = sb.state
    assert state.webhook_duplicated == 7  # 6 assets, the flaky one ended twice
    # Each event answered 2xx twice (the very last copy may be cut off by the run's end).
    assert len(state.webhook_delivered) == 7
    assert sum(n == 2 for n in state.webhook_delivered.values()) >= 6
    # Acting on a copy would show: the failed event's copy would fetch E6 again while the
    # retry runs (and the completed ones are dropped by the ticket anyway).
    assert state.requests["get_asset"] == 7
    assert state.requests["retry_asset"] == 1
    assert state.requests["get_submission"] == 1  # the pre-run probe only: no status reads
    lines = read_report(tmp_path / "report.jsonl")
    assert [line["status"] for line in lines] == ["complete"] * 6
    assert_correct(tmp_path, lines)


@pytest.mark.parametrize("batch_size", [1, 4])
async def test_a_fifth_of_events_lost_and_the_run_still_ends_complete_and_correct(
    tls: Tls, tmp_path: Path, batch_size: int
) -> None:
    # One asset per submission: only the reconciliation read can find a lost one. Four:
    # a lost event's siblings usually arrive, and the read follows them by the margin.
    manifest = media(tmp_path, 20, flaky=b"MM-FLAKY ")
    hooks = hook_settings(tls, free_port(), reconcile_first=1.0, reconcile_max=2.0)
    async with hooked_sandbox(tls, webhook_loss=0.2, seed=7) as sb:
        settings = fast_settings(sb.base_url, tmp_path, batch_size=batch_size, webhooks=hooks)
        summary = await run_batch(manifest, settings)
        state = sb.state
    assert state.webhook_lost >= 3  # the seed loses some of the 22 events
    lines = read_report(tmp_path / "report.jsonl")
    assert len(lines) == 21
    assert {line["status"] for line in lines} == {"complete"}
    assert_correct(tmp_path, lines)
    assert summary.complete == 21
    # Reconciliation read the submissions whose events were lost, not every one, often.
    submissions = len(state.submissions)
    assert (
        1 < state.requests["get_submission"] <= 1 + 3 * submissions
    )  # the probe, then reconciliation
    assert state.webhook_subscriptions == {}
