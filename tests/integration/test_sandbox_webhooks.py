"""Webhooks like the real service: subscriptions (E10, list, get, update, delete), signed
Standard Webhooks deliveries to an HTTPS receiver with retries, delivery history (E11),
sandbox firing (E12), and the loss/duplicate delivery faults."""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
import trustme
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from batcher.sandbox import SandboxConfig, running_sandbox
from tests.fixtures.sandbox import API, SandboxHttp, http_for, sample

pytestmark = pytest.mark.anyio

PDF = "application/pdf"
SUBS = f"{API}/webhooks/subscriptions"
COMPLETED = "asset.processing.completed"
FAILED = "asset.processing.failed"


@dataclass
class Receiver:
    """A tiny HTTPS endpoint: records each delivery, answers from ``statuses`` (then 200)."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    _arrived: anyio.Event = field(default_factory=anyio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        self._arrived.set()
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    async def wait_for(self, n: int) -> None:
        with anyio.fail_after(5):
            while len(self.received) < n:
                await self._arrived.wait()
                self._arrived = anyio.Event()

    def events(self, secret: str) -> list[dict[str, Any]]:
        """Every delivery, verified the way a client verifies it."""
        wh = Webhook(secret)
        return [wh.verify(body, headers) for headers, body in self.received]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def client_ssl(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@asynccontextmanager
async def receiver_on(ca: trustme.CA, path: str = "/hook") -> AsyncIterator[Receiver]:
    receiver = Receiver()
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ssl)
    app = web.Application()
    app.router.add_post(path, receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ssl)
    await site.start()
    receiver.url = f"https://127.0.0.1:{runner.addresses[0][1]}{path}"
    try:
        yield receiver
    finally:
        await runner.cleanup()


@pytest.fixture
async def receiver(ca: trustme.CA) -> AsyncIterator[Receiver]:
    async with receiver_on(ca) as r:
        yield r


async def eventually(check: Callable[[], bool]) -> None:
    """Wait (5 s at most) for the sandbox's delivery task to get somewhere."""
    with anyio.fail_after(5):
        while True:
            if check():
                return
            await anyio.sleep(0.01)


def fast(**overrides: Any) -> SandboxConfig:
    settings: dict[str, Any] = {"processing_delay": 0.05, "webhook_retry_backoff_seconds": 0.0}
    return SandboxConfig(**(settings | overrides))


async def subscribe(
    http: SandboxHttp, url: str, types: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    body = {"endpointUrl": url, "eventTypes": types or [COMPLETED, FAILED], **extra}
    reply = await http.request("POST", SUBS, json=body)
    assert reply.status == 201, reply.body
    created: dict[str, Any] = reply.json()
    return created


async def submit_one(http: SandboxHttp, name: str, marker: bytes = b"") -> dict[str, Any]:
    path = await http.upload(name, PDF, sample(PDF, marker))
    reply = await http.submit(path)
    assert reply.status == 201, reply.body
    created: dict[str, Any] = reply.json()
    return created


async def test_subscriptions_are_validated_listed_and_deleted() -> None:
    other = "sk_test_other_workspace"
    config = SandboxConfig(
        webhook_subscription_limit=2,
        key_workspaces={other: "770e8400-e29b-41d4-a716-446655440000"},
    )
    async with running_sandbox(config) as sb, http_for(sb) as http, http_for(sb, other) as them:
        bad = [
            {"endpointUrl": "http://example.com/hook", "eventTypes": [COMPLETED]},
            {"endpointUrl": "https://" + "a" * 2080, "eventTypes": [COMPLETED]},
            {"endpointUrl": "", "eventTypes": [COMPLETED]},
            {"endpointUrl": "https:///nohost", "eventTypes": [COMPLETED]},
            {"endpointUrl": "https://example.com/hook", "eventTypes": []},
            {"endpointUrl": "https://example.com/hook", "eventTypes": ["asset.created"]},
            {"eventTypes": [COMPLETED]},
        ]
        for body in bad:
            reply = await http.request("POST", SUBS, json=body)
            assert reply.status == 422, body
            assert isinstance(reply.json()["detail"], list)

        created = await subscribe(http, "https://example.com/hook", [COMPLETED], description="d")
        assert created["secret"].startswith("whsec_")
        assert len(base64.b64decode(created["secret"][len("whsec_") :])) >= 24
        assert created["enabled"] is True
        assert created["eventTypes"] == [COMPLETED]
        assert created["description"] == "d"
        assert created["workspaceId"] == config.workspace_id
        assert set(created) == {
            "id", "workspaceId", "endpointUrl", "eventTypes", "enabled",
            "createdAt", "updatedAt", "secret", "description",
        }  # fmt: skip
        await subscribe(http, "https://example.com/other")
        full = await http.request(
            "POST", SUBS, json={"endpointUrl": "https://x.example/h", "eventTypes": [FAILED]}
        )
        assert full.status == 422
        assert "limit" in full.json()["detail"]

        listing = (await http.request("GET", SUBS)).json()
        assert listing["total"] == 2
        assert all("secret" not in s for s in listing["subscriptions"])
        one = await http.request("GET", f"{SUBS}/{created['id']}")
        assert one.status == 200
        assert "secret" not in one.json()
        assert (await them.request("GET", f"{SUBS}/{created['id']}")).status == 404
        assert (await them.request("GET", SUBS)).json() == {"subscriptions": [], "total": 0}
        assert (await them.request("DELETE", f"{SUBS}/{created['id']}")).status == 404

        paused = await http.request("PATCH", f"{SUBS}/{created['id']}", json={"enabled": False})
        assert paused.json()["enabled"] is False

        assert (await http.request("DELETE", f"{SUBS}/{created['id']}")).status == 204
        assert (await http.request("DELETE", f"{SUBS}/{created['id']}")).status == 404
        assert (await http.request("GET", f"{SUBS}/not-a-uuid")).status == 422
        assert (await http.request("GET", SUBS)).json()["total"] == 1
    assert sb.state.bucket_requests["webhook_write"] == 14
    assert sb.state.bucket_requests["webhook_read"] == 6


async def test_an_asset_end_is_delivered_signed_and_recorded(
    receiver: Receiver, client_ssl: ssl.SSLContext
) -> None:
    async with (
        running_sandbox(fast(), webhook_ssl_context=client_ssl) as sb,
        http_for(sb) as http,
    ):
        sub = await subscribe(http, receiver.url)
        created = await submit_one(http, "done.pdf")
        await receiver.wait_for(1)
        [event] = receiver.events(sub["secret"])
        headers, _ = receiver.received[0]
        history = await http.request("GET", f"{SUBS}/{sub['id']}/deliveries")
    asset = created["assets"][0]
    assert event["type"] == COMPLETED
    assert event["id"].startswith("evt_")
    assert headers["webhook-id"] == event["id"]
    assert event["timestamp"].endswith("Z")
    data = event["data"]
    assert data["submission_id"] == created["submissionId"]
    assert data["asset_id"] == asset["assetId"]
    assert data["status"] == "complete"
    assert data["version_group_id"] == asset["versionGroupId"]
    assert data["version_number"] == 1
    assert "error_message" not in data
    body = history.json()
    assert body["total"] == 1
    [attempt] = body["attempts"]
    assert (attempt["status"], attempt["responseStatus"], attempt["eventId"]) == (
        "succeeded",
        200,
        event["id"],
    )
    assert sb.state.webhook_delivered[event["id"]] == 1
    assert [e.id for e in sb.state.webhook_events] == [event["id"]]


def verified(receiver: Receiver, *subs: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(subscription id, event) per delivery: the signature tells whose secret signed it."""
    out: list[tuple[str, dict[str, Any]]] = []
    for headers, body in receiver.received:
        for sub in subs:
            try:
                event = Webhook(sub["secret"]).verify(body, headers)
            except WebhookVerificationError:
                continue
            out.append((sub["id"], event))
            break
        else:
            raise AssertionError("a delivery no subscription's secret verifies")
    return out


async def test_failures_and_retries_send_failed_then_completed_with_new_ids(
    receiver: Receiver, client_ssl: ssl.SSLContext
) -> None:
    async with (
        running_sandbox(fast(), webhook_ssl_context=client_ssl) as sb,
        http_for(sb) as http,
    ):
        both = await subscribe(http, receiver.url)
        only_failed = await subscribe(http, receiver.url, [FAILED])
        flaky = await submit_one(http, "flaky.pdf", b"MM-FLAKY")
        await receiver.wait_for(2)  # both subscriptions want failures
        sid, aid = flaky["submissionId"], flaky["assets"][0]["assetId"]
        retry = await http.request("POST", f"{API}/submissions/{sid}/assets/{aid}/retry")
        assert retry.status == 202
        await receiver.wait_for(3)  # only the first wants completions
        deliveries = verified(receiver, both, only_failed)
    (owner_a, first), (owner_b, second), (owner_c, final) = deliveries
    assert {owner_a, owner_b} == {both["id"], only_failed["id"]}
    assert first["id"] == second["id"]  # one event, sent to two subscriptions
    assert first["type"] == FAILED
    assert first["data"]["status"] == "failed"
    assert "temporarily" in first["data"]["error_message"]
    assert first["data"]["is_retryable"] is True
    assert (owner_c, final["type"]) == (both["id"], COMPLETED)
    assert final["id"] != first["id"]
    assert final["data"]["retry_count"] == 1
    assert len(sb.state.webhook_events) == 2


async def test_non_2xx_answers_are_retried_and_every_attempt_is_listed(
    receiver: Receiver, client_ssl: ssl.SSLContext
) -> None:
    receiver.statuses = [500, 503]
    async with (
        running_sandbox(fast(), webhook_ssl_context=client_ssl) as sb,
        http_for(sb) as http,
    ):
        sub = await subscribe(http, receiver.url)
        await submit_one(http, "retried.pdf")
        await receiver.wait_for(3)
        await eventually(lambda: len(sb.state.webhook_attempts) >= 3)
        history = f"{SUBS}/{sub['id']}/deliveries"
        every = (await http.request("GET", history)).json()
        failed = (await http.request("GET", f"{history}?status_filter=failed")).json()
        newest = (await http.request("GET", f"{history}?limit=1")).json()
        bad = await http.request("GET", f"{history}?limit=0")
        bad_filter = await http.request("GET", f"{history}?status_filter=pending")
    assert [a["responseStatus"] for a in every["attempts"]] == [200, 503, 500]  # newest first
    assert [a["status"] for a in every["attempts"]] == ["succeeded", "failed", "failed"]
    assert len({a["eventId"] for a in every["attempts"]}) == 1
    assert failed["total"] == 2
    assert newest["total"] == 1
    assert newest["attempts"][0]["status"] == "succeeded"
    assert (bad.status, bad_filter.status) == (422, 422)
    ids = {json_id for json_id, _ in verified(receiver, sub)}
    assert ids == {sub["id"]}


async def test_an_untrusted_endpoint_fails_every_attempt_and_is_given_up(
    receiver: Receiver,
) -> None:
    # No test CA given: the sandbox trusts only the system's CAs, so TLS fails.
    async with running_sandbox(fast(webhook_max_attempts=2)) as sb, http_for(sb) as http:
        sub = await subscribe(http, receiver.url)
        await submit_one(http, "untrusted.pdf")
        await eventually(lambda: sb.state.webhook_given_up >= 1)
        history = (await http.request("GET", f"{SUBS}/{sub['id']}/deliveries")).json()
    assert receiver.received == []
    assert [(a["status"], a["responseStatus"]) for a in history["attempts"]] == [
        ("failed", None),
        ("failed", None),
    ]


async def test_loss_and_duplication_faults(receiver: Receiver, client_ssl: ssl.SSLContext) -> None:
    async with (
        running_sandbox(fast(webhook_loss=1.0), webhook_ssl_context=client_ssl) as sb,
        http_for(sb) as http,
    ):
        await subscribe(http, receiver.url)
        created = await submit_one(http, "lost.pdf")
        await http.wait_terminal(created["submissionId"])
        await eventually(lambda: bool(sb.state.webhook_events))
    assert sb.state.webhook_lost == 1
    assert sb.state.webhook_attempts == []

    async with (
        running_sandbox(fast(webhook_duplicate=1.0), webhook_ssl_context=client_ssl) as sb,
        http_for(sb) as http,
    ):
        sub = await subscribe(http, receiver.url)
        await submit_one(http, "twice.pdf")
        await receiver.wait_for(2)
        first, second = (event for _, event in verified(receiver, sub))
    assert first == second  # the same event id twice: receivers must be idempotent on it
    assert sb.state.webhook_duplicated == 1
    assert sb.state.webhook_delivered[first["id"]] == 2


async def test_fire_sends_one_event_per_asset_per_matching_subscription(
    receiver: Receiver, client_ssl: ssl.SSLContext
) -> None:
    live = "sk_live_" + "0" * 64
    config = fast(live_keys=frozenset({live}), processing_delay=60.0)
    async with (
        running_sandbox(config, webhook_ssl_context=client_ssl) as sb,
        http_for(sb) as http,
        http_for(sb, live) as live_http,
    ):
        both = await subscribe(http, receiver.url)
        completions = await subscribe(http, receiver.url, [COMPLETED])
        paths = [await http.upload(f"f{i}.pdf", PDF, sample(PDF, bytes([i]))) for i in range(2)]
        sid = (await http.submit(*paths)).json()["submissionId"]
        fire = f"{API}/sandbox/events/fire"
        refused = await live_http.request(
            "POST", fire, json={"eventType": FAILED, "submissionId": sid}
        )
        missing = await http.request(
            "POST",
            fire,
            json={"eventType": FAILED, "submissionId": "00000000-0000-4000-8000-000000000000"},
        )
        invalid = await http.request("POST", fire, json={"eventType": "x", "submissionId": sid})
        fired = await http.request("POST", fire, json={"eventType": FAILED, "submissionId": sid})
        await receiver.wait_for(2)
        custom = await http.request(
            "POST",
            fire,
            json={"eventType": COMPLETED, "submissionId": sid, "errorMessage": "ignored"},
        )
        await receiver.wait_for(6)
    assert (refused.status, missing.status, invalid.status) == (403, 404, 422)
    assert fired.json() == {"dispatched": 2}  # two assets, one subscription wants failures
    assert custom.json() == {"dispatched": 4}  # two assets, both subscriptions
    deliveries = verified(receiver, both, completions)
    failed = [e for _, e in deliveries if e["type"] == FAILED]
    assert len(failed) == 2
    assert {owner for owner, e in deliveries if e["type"] == FAILED} == {both["id"]}
    assert {e["data"]["error_message"] for e in failed} == {"Sandbox simulated failure"}
    assert all(e.fired for e in sb.state.webhook_events)
    assert sb.state.bucket_requests["sandbox"] == 5
