"""Webhook parts alone: the receiver over loopback HTTP, the schedule's wakeups on the fake
clock, reconciliation waits, options and redaction."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream
from pydantic import SecretStr, ValidationError
from standardwebhooks.webhooks import Webhook

from batcher.cli.layers import parse_main
from batcher.cli.options import build_parser
from batcher.cli.settings import parse_listen, settings_from
from batcher.clock import FakeClock
from batcher.config import WebhookSettings
from batcher.errors import UsageError
from batcher.outcome import RowJob, Ticket
from batcher.redact import redact
from batcher.stages.poll import hooked_wait, reconcile_wait
from batcher.stages.schedule import PollSchedule
from batcher.webhooks.events import AssetEvent, Wakeup
from batcher.webhooks.receiver import Receiver, serve

pytestmark = pytest.mark.anyio

SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy0xMjM0NTY3OA=="
HOOKS = WebhookSettings(url="https://hooks.example/batcher", listen_port=0, settle_margin=5)


def envelope(event_id: str = "evt_1", **data: Any) -> dict[str, Any]:
    body = {"submission_id": "s1", "asset_id": "a1", "status": "complete"} | data
    return {"id": event_id, "type": "asset.processing.completed", "timestamp": "t", "data": body}


def signed(payload: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload)
    now = datetime.now(UTC)
    headers = {
        "webhook-id": payload["id"],
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(payload["id"], now, body),
    }
    return body.encode(), headers


@asynccontextmanager
async def receiving() -> AsyncIterator[tuple[Receiver, str, MemoryObjectReceiveStream[Wakeup]]]:
    inbox, wakeups = anyio.create_memory_object_stream[Wakeup](10)
    receiver = Receiver(HOOKS.path, inbox)
    async with anyio.create_task_group() as tg, inbox, wakeups:
        port = await tg.start(serve, receiver, HOOKS)
        yield receiver, f"http://127.0.0.1:{port}{HOOKS.path}", wakeups
        tg.cancel_scope.cancel()


async def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as r,
    ):
        return r.status


async def test_the_receiver_refuses_everything_until_armed_then_verifies() -> None:
    async with receiving() as (receiver, url, wakeups):
        assert await post(url, *signed(envelope())) == 401  # no subscription yet
        receiver.arm(SecretStr(SECRET))
        assert await post(url, *signed(envelope(), "whsec_" + "QUJD" * 8)) == 401
        assert await post(url, *signed(envelope())) == 204
        assert await post(url, *signed(envelope())) == 204  # the same id again
        assert await post(url, *signed({"id": "evt_x", "type": "other", "data": {}})) == 204
        [wakeup] = [wakeups.receive_nowait()]
        with pytest.raises(anyio.WouldBlock):
            wakeups.receive_nowait()
    assert wakeup == Wakeup("s1", "a1", "complete", None)
    stats = receiver.stats
    assert (stats.rejected, stats.accepted, stats.duplicates, stats.unreadable) == (2, 1, 1, 1)


async def test_a_full_inbox_drops_the_event_but_still_answers_2xx() -> None:
    inbox, wakeups = anyio.create_memory_object_stream[Wakeup](1)
    receiver = Receiver(HOOKS.path, inbox)
    receiver.arm(SecretStr(SECRET))
    async with anyio.create_task_group() as tg, inbox, wakeups:
        port = await tg.start(serve, receiver, HOOKS)
        url = f"http://127.0.0.1:{port}{HOOKS.path}"
        assert await post(url, *signed(envelope("evt_a"))) == 204
        assert await post(url, *signed(envelope("evt_b"))) == 204
        tg.cancel_scope.cancel()
    assert (receiver.stats.accepted, receiver.stats.dropped) == (1, 1)


async def test_a_busy_port_is_a_usage_error_naming_the_option() -> None:
    async with receiving() as (_, url, _w):
        port = int(url.split(":")[2].split("/")[0])
        busy = HOOKS.model_copy(update={"listen_port": port})
        inbox, wakeups = anyio.create_memory_object_stream[Wakeup](1)
        with inbox, wakeups, pytest.raises(UsageError, match=r"--webhook-listen 127\.0\.0\.1"):
            await serve(Receiver("/x", inbox), busy)


def test_a_failed_event_carries_what_e5_would_say_only_when_it_says_it() -> None:
    failed = envelope(status="failed", error_type="T", error_message="m", is_retryable=True)
    failed["type"] = "asset.processing.failed"
    wakeup = AssetEvent.model_validate(failed).wakeup()
    assert wakeup.status == "failed"
    assert wakeup.item is not None
    assert (wakeup.item.is_retryable, wakeup.item.error_type) == (True, "T")
    silent = envelope(status="failed")
    silent["type"] = "asset.processing.failed"
    assert AssetEvent.model_validate(silent).wakeup().item is None  # the poller reads E5


def _ticket(sid: str, *assets: str) -> Ticket:
    jobs = {a: RowJob(row=i, path_text=a, columns={}) for i, a in enumerate(assets)}
    return Ticket(sid, jobs, created_at=0.0)


async def test_wake_makes_a_far_ticket_due_now_and_skips_its_old_entry() -> None:
    clock = FakeClock()
    schedule = PollSchedule(clock)
    far, near = _ticket("far", "a", "b"), _ticket("near", "c")
    await schedule.put(far, clock.now() + 600)
    await schedule.put(near, clock.now() + 50)
    async with clock.autojump():
        assert await schedule.wake(Wakeup("far", "a", "complete"))
        assert await schedule.get() is far
        assert clock.now() == 1000.0  # at once, not in 600 s
        assert schedule.take_hints("far") == {"a": Wakeup("far", "a", "complete")}
        assert schedule.heard("far") == {"a"}
        await schedule.finished(far, clock.now() + 600)
        assert await schedule.get() is near  # far's first entry (due at 600) is gone
        assert clock.now() == 1050.0
        await schedule.finished(near, None)
        await schedule.close()
        assert await schedule.get() is far
        assert clock.now() == 1600.0
        await schedule.finished(far, None)
        assert await schedule.get() is None


async def test_wake_while_polled_requeues_now_and_unknown_ones_wait_for_their_ticket() -> None:
    clock = FakeClock()
    schedule = PollSchedule(clock)
    ticket = _ticket("s", "a", "b")
    await schedule.put(ticket, clock.now())
    assert await schedule.get() is ticket
    assert await schedule.wake(Wakeup("s", "b", "complete"))  # during its round
    await schedule.finished(ticket, clock.now() + 300)
    async with clock.autojump():
        assert await schedule.get() is ticket
    assert clock.now() == 1000.0
    assert list(schedule.take_hints("s")) == ["b"]
    ticket.done.add("b")
    assert not await schedule.wake(Wakeup("s", "b", "complete"))  # already reported
    assert not await schedule.wake(Wakeup("s", "zzz", "complete"))  # not this run's asset
    # An event that beats its ticket is kept, and the ticket is due at once when it comes.
    assert not await schedule.wake(Wakeup("later", "x", "complete"))
    later = _ticket("later", "x")
    await schedule.put(later, clock.now() + 999)
    async with clock.autojump():
        assert await schedule.get() is later
    assert clock.now() == 1000.0
    assert list(schedule.take_hints("later")) == ["x"]


async def test_stale_early_wakeups_age_out() -> None:
    clock = FakeClock()
    schedule = PollSchedule(clock)
    await schedule.wake(Wakeup("stranger", "x", "complete"))
    clock.advance(1000)
    await schedule.wake(Wakeup("another", "y", "complete"))  # sweeps the old one
    await schedule.put(_ticket("stranger", "x"), clock.now() + 10)
    assert schedule.take_hints("stranger") == {}


def test_reconciliation_reads_rarely_and_soon_only_after_a_sibling_event() -> None:
    ticket = _ticket("s", "a", "b")
    waits = [reconcile_wait(HOOKS, Ticket("s", {}, 0.0, polls=n)) for n in range(8)]
    assert waits[0] == HOOKS.reconcile_first
    assert waits == sorted(waits)
    assert waits[-1] == HOOKS.reconcile_max
    # "a" had its event and was retried; "b" had none: its event was probably lost.
    assert hooked_wait(HOOKS, ticket, True, frozenset({"a"})) == 5
    # Both had events (a retry runs): wait for its event, reconcile only.
    assert hooked_wait(HOOKS, ticket, True, frozenset({"a", "b"})) == HOOKS.reconcile_first
    assert hooked_wait(HOOKS, ticket, False, frozenset()) == HOOKS.reconcile_first


def test_options_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert parse_listen("0.0.0.0:9000") == ("0.0.0.0", 9000)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert parse_listen(":9000") == ("127.0.0.1", 9000)
    for bad in ("9000", "host:", "host:99999", "h:x"):
        with pytest.raises(UsageError):
            parse_listen(bad)
    monkeypatch.setenv("BATCHER_WEBHOOK_URL", "https://hooks.example/in")
    monkeypatch.setenv("BATCHER_WEBHOOK_LISTEN", "0.0.0.0:8443")
    args = parse_main(["m.csv"])
    hooks = settings_from(args).webhooks
    assert hooks is not None
    assert (hooks.url, hooks.listen_host, hooks.listen_port, hooks.path) == (
        "https://hooks.example/in", "0.0.0.0", 8443, "/in",
    )  # fmt: skip
    assert hooks.tls_cert is None  # plain HTTP behind a proxy
    monkeypatch.delenv("BATCHER_WEBHOOK_URL")
    assert settings_from(parse_main(["m.csv"])).webhooks is None
    with pytest.raises(UsageError, match="need --webhook-url"):
        settings_from(build_parser().parse_args(["m.csv", "--webhook-tls-cert", "c.pem"]))
    with pytest.raises(ValidationError, match="https"):
        WebhookSettings(url="http://hooks.example/in")
    with pytest.raises(ValidationError, match="go together"):
        WebhookSettings(url="https://h.example/", tls_cert=tmp_path / "c.pem")


def test_webhook_secrets_are_redacted() -> None:
    text = f"created {SECRET} and whsec_abc-_/+= for sk_test_abc"
    assert redact(text) == "created whsec_REDACTED and whsec_REDACTED for sk_test_REDACTED"
