"""The webhook receiver: an aiohttp server that verifies every delivery and hands it on.

Each POST is verified with the ``standardwebhooks`` library and the subscription's secret;
any failure (a wrong signature, a stale or future timestamp, a missing or malformed header,
a body that is not UTF-8) is answered 401 and dropped. The library raises more than its own
``WebhookVerificationError`` for malformed input (``ValueError``, ``binascii.Error``,
``UnicodeDecodeError``), so every exception of verification counts as a failure.

A verified event is answered 204 at once; the pollers do the work. Event ids already seen are
answered 204 and dropped (deliveries are at least once). An event the pollers' inbox cannot
take right now is dropped too: the reconciliation poll finds its asset anyway.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass

import anyio
import anyio.abc
from aiohttp import web
from anyio.streams.memory import MemoryObjectSendStream
from pydantic import SecretStr, ValidationError
from standardwebhooks.webhooks import Webhook

from batcher.config import WebhookSettings
from batcher.errors import UsageError
from batcher.logs import event
from batcher.webhooks.events import AssetEvent, Wakeup

_MAX_BODY = 256 * 1024  # an envelope is well under 2 KB; refuse anything absurd


@dataclass
class ReceiverStats:
    received: int = 0
    rejected: int = 0
    """Answered 401: the signature did not verify."""
    duplicates: int = 0
    unreadable: int = 0
    """Verified, but not an event we understand (answered 204, ignored)."""
    dropped: int = 0
    """Verified, but the pollers' inbox was full or closed (polling will find it)."""
    accepted: int = 0


class Receiver:
    def __init__(self, path: str, inbox: MemoryObjectSendStream[Wakeup]) -> None:
        self.path = path
        self._inbox = inbox
        self._verifier: Webhook | None = None
        self._seen: set[str] = set()
        self.stats = ReceiverStats()

    def arm(self, secret: SecretStr) -> None:
        """Start accepting deliveries signed with ``secret`` (kept only inside the verifier)."""
        self._verifier = Webhook(secret.get_secret_value())

    def app(self) -> web.Application:
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_post(self.path, self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        self.stats.received += 1
        body = await request.read()
        if self._verifier is None:  # no subscription yet: nothing can be ours
            self.stats.rejected += 1
            return web.Response(status=401)
        try:
            payload = self._verifier.verify(body, dict(request.headers))
        except Exception as exc:  # malformed input raises assorted types
            self.stats.rejected += 1
            # The class name only: the library's messages are harmless, but a body or a
            # header never belongs in a log.
            event(logging.WARNING, "webhook rejected", reason=type(exc).__name__)
            return web.Response(status=401)
        try:
            parsed = AssetEvent.model_validate(payload)
        except ValidationError:
            self.stats.unreadable += 1
            event(logging.WARNING, "webhook ignored: not an asset event")
            return web.Response(status=204)
        if parsed.id in self._seen:
            self.stats.duplicates += 1
            return web.Response(status=204)
        self._seen.add(parsed.id)
        try:
            self._inbox.send_nowait(parsed.wakeup())
        except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            self.stats.dropped += 1
        else:
            self.stats.accepted += 1
            event(
                logging.DEBUG,
                "webhook",
                eventId=parsed.id,
                type=parsed.type,
                submissionId=parsed.data.submission_id,
                assetId=parsed.data.asset_id,
            )
        return web.Response(status=204)


def server_ssl(settings: WebhookSettings) -> ssl.SSLContext | None:
    if settings.tls_cert is None or settings.tls_key is None:
        return None  # plain HTTP behind a TLS-terminating proxy
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise UsageError(f"cannot load --webhook-tls-cert/--webhook-tls-key: {reason}") from None
    return context


async def serve(
    receiver: Receiver,
    settings: WebhookSettings,
    *,
    task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Listen until cancelled; ``task_status`` gets the bound port (0 picks a free one)."""
    context = server_ssl(settings)
    runner = web.AppRunner(receiver.app(), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.listen_host, settings.listen_port, ssl_context=context)
        try:
            await site.start()
        except OSError as exc:
            where = f"{settings.listen_host}:{settings.listen_port}"
            raise UsageError(f"--webhook-listen {where}: cannot listen: {exc.strerror}") from None
        port = int(runner.addresses[0][1])
        event(logging.INFO, "webhook receiver listening", host=settings.listen_host, port=port)
        task_status.started(port)
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            await runner.cleanup()
