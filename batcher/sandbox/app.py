"""The aiohttp application, its middleware (faults → auth → rate limit → handler), and
``running_sandbox``, the context manager that binds a socket and cleans up everything."""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from batcher.sandbox.assemble import build_context
from batcher.sandbox.auth import authenticate
from batcher.sandbox.blob_common import blob_path_of, endpoint_name
from batcher.sandbox.bodies import PRINCIPAL
from batcher.sandbox.config import API_ENDPOINTS, BucketName, RateLimit, SandboxConfig
from batcher.sandbox.context import CONTEXT, AppContext, context
from batcher.sandbox.errors import ApiError, BlobError
from batcher.sandbox.faults import (
    DroppedResponse,
    api_error_for,
    blob_error_for,
    drop_connection,
)
from batcher.sandbox.routes_blob import handle_blob
from batcher.sandbox.routes_submissions import (
    create_submission,
    get_asset,
    get_issues,
    get_submission,
    retry_asset,
)
from batcher.sandbox.routes_uploads import direct_upload, upload_url
from batcher.sandbox.routes_webhooks import (
    create_subscription,
    delete_subscription,
    fire_events,
    get_subscription,
    list_deliveries,
    list_subscriptions,
    update_subscription,
)
from batcher.sandbox.sas import BLOB_PREFIX
from batcher.sandbox.state import SandboxState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_API = "/api/integrations"
# Bodies of E1/E4 are small JSON; 16 MiB leaves room for very large asset lists.
_MAX_JSON_BODY = 16 * 1024 * 1024


def _unmatched(exc: web.HTTPException) -> web.Response:
    # FastAPI's shapes for routing failures, e.g. the undocumented "/status" suffix.
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    detail = "Method Not Allowed" if exc.status == 405 else "Not Found"
    return web.json_response({"detail": detail}, status=exc.status, headers=headers)


async def _drain(request: web.Request, ctx: AppContext, blob_path: str) -> None:
    """Read a faulted blob body like Azure would, so byte counters see every re-sent byte."""
    stats = ctx.state.blob(blob_path) if blob_path else None
    async for chunk in ctx.link.paced(request.content.iter_any()):
        ctx.state.blob_bytes_received += len(chunk)
        if stats is not None:
            stats.bytes_received += len(chunk)


@web.middleware
async def sandbox_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = context(request)
    routing_error = request.match_info.http_exception
    if routing_error is not None:
        ctx.state.requests["unmatched"] += 1
        return _unmatched(routing_error)
    is_blob = request.match_info.route.name == "blob"
    endpoint = endpoint_name(request) if is_blob else str(request.match_info.route.name)
    ctx.state.requests[endpoint] += 1
    ctx.state.bucket_requests["blob" if is_blob else API_ENDPOINTS[endpoint]] += 1
    latency = ctx.faults.latency(endpoint)
    if latency > 0:
        await anyio.sleep(latency)
    fault = ctx.faults.draw(endpoint)
    try:
        if fault == "drop_before":
            return drop_connection(request)
        if fault in ("error_500", "error_502", "error_503"):
            if is_blob:
                await _drain(request, ctx, blob_path_of(request))
                raise blob_error_for(fault)
            raise api_error_for(fault)
        if not is_blob:
            bucket = API_ENDPOINTS[endpoint]
            who = authenticate(request, ctx.config, bucket)
            request[PRINCIPAL] = who
            ctx.limiter.check(who.key_id, bucket, endpoint)
        response = await handler(request)
    except ApiError as exc:
        response = exc.response()
    except BlobError as exc:
        response = exc.response()
    except web.HTTPRequestEntityTooLarge:
        response = ApiError(413, "Request body too large").response()
    except ConnectionError:
        # The client went away mid-request; nothing to answer.
        return DroppedResponse()
    ctx.state.record_response(endpoint, response.status)
    if fault == "drop_after":
        # Fully handled (a submission may now exist), but the client never hears back.
        return drop_connection(request)
    return response


def build_app(ctx: AppContext) -> web.Application:
    app = web.Application(middlewares=[sandbox_middleware], client_max_size=_MAX_JSON_BODY)
    app[CONTEXT] = ctx
    r = app.router
    r.add_post(f"{_API}/uploads/url", upload_url, name="upload_url")
    r.add_post(f"{_API}/uploads/direct", direct_upload, name="direct_upload")
    r.add_post(f"{_API}/submissions", create_submission, name="create_submission")
    sub = f"{_API}/submissions/{{submission_id}}"
    r.add_get(sub, get_submission, name="get_submission", allow_head=False)
    asset = f"{sub}/assets/{{asset_id}}"
    r.add_get(asset, get_asset, name="get_asset", allow_head=False)
    r.add_get(f"{asset}/issues", get_issues, name="get_issues", allow_head=False)
    r.add_post(f"{asset}/retry", retry_asset, name="retry_asset")
    subs = f"{_API}/webhooks/subscriptions"
    r.add_post(subs, create_subscription, name="create_subscription")
    r.add_get(subs, list_subscriptions, name="list_subscriptions", allow_head=False)
    one = f"{subs}/{{subscription_id}}"
    r.add_get(one, get_subscription, name="get_subscription", allow_head=False)
    r.add_patch(one, update_subscription, name="update_subscription")
    r.add_delete(one, delete_subscription, name="delete_subscription")
    r.add_get(f"{one}/deliveries", list_deliveries, name="list_deliveries", allow_head=False)
    r.add_post(f"{_API}/sandbox/events/fire", fire_events, name="fire_events")
    blob = r.add_resource(BLOB_PREFIX + "{blob:.+}", name="blob")
    for method in ("PUT", "GET", "HEAD"):
        blob.add_route(method, handle_blob)
    return app


@dataclass(frozen=True)
class Sandbox:
    """A running sandbox: where it listens, what it has seen, and how it was configured.

    ``config`` is what it started with; the knobs below change a running sandbox."""

    base_url: str  # e.g. "http://127.0.0.1:43123", no trailing slash
    state: SandboxState
    config: SandboxConfig
    storage_dir: Path
    _ctx: AppContext = field(repr=False)

    def rate_limit(self, bucket: BucketName) -> RateLimit | None:
        """The limit in force for ``bucket`` now (None: unlimited)."""
        return self._ctx.limiter.limit(bucket)

    def set_rate_limit(self, bucket: BucketName, limit: RateLimit | None) -> None:
        """Change ``bucket``'s limit from the next request on (None: unlimited)."""
        self._ctx.limiter.set_limit(bucket, limit)

    @property
    def blob_bandwidth(self) -> float | None:
        return self._ctx.link.bytes_per_second

    def set_blob_bandwidth(self, bytes_per_second: float | None) -> None:
        """Change the shared upload-body pace (None: unpaced)."""
        self._ctx.link.set_rate(bytes_per_second)


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


@asynccontextmanager
async def running_sandbox(
    config: SandboxConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    clock: Callable[[], float] | None = None,
    access_log_class: type[AbstractAccessLogger] | None = None,
    webhook_ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[Sandbox]:
    """Serve the sandbox on ``host:port`` (0 = any free port) until the block exits.

    ``clock`` returns wall-clock seconds since the epoch (default ``time.time``); it drives
    SAS expiry, processing progress and rate limits, so tests can step time instead of
    sleeping. ``webhook_ssl_context`` is what webhook deliveries trust (default: the
    config's ``webhook_ca_file``, else the system's CAs).

    With ``config.state_dir`` the blobs and records stay on disk at exit (and are reloaded by
    the next sandbox on that directory); otherwise everything is removed.
    """
    config = config or SandboxConfig()
    ctx, tmp = await build_context(config, clock or time.time, webhook_ssl_context)
    app = build_app(ctx)
    # Short shutdown: in-flight requests get a second, then cleanup must not hang a test.
    if access_log_class is None:
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0, access_log=None)
    else:
        runner = web.AppRunner(
            app, handle_signals=False, shutdown_timeout=1.0, access_log_class=access_log_class
        )
    error: Exception | None = None
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(ctx.webhooks.run)
            try:
                await runner.setup()
                site = web.TCPSite(runner, host, port)
                await site.start()
                bound_port = runner.addresses[0][1]
                ctx.base_url = f"http://{_url_host(host)}:{bound_port}"
                yield Sandbox(ctx.base_url, ctx.state, config, ctx.store.root, ctx)
            except Exception as exc:
                # Re-raised below as itself, not wrapped in the task group's ExceptionGroup.
                error = exc
            finally:
                with anyio.CancelScope(shield=True):
                    await runner.cleanup()
                tg.cancel_scope.cancel()
        if error is not None:
            raise error
    finally:
        with anyio.CancelScope(shield=True):
            await ctx.journal.close()
            if config.state_dir is None:
                await ctx.store.remove_all()
            if tmp is not None:
                await anyio.to_thread.run_sync(tmp.cleanup)
