"""Webhook subscriptions (E10 create, list, get, update, E13 delete), delivery history (E11)
and sandbox event firing (E12).

Where the reference is silent, see docs/sandbox.md: list shape, PATCH body, delete answer,
attempt statuses and ``status_filter`` values are this sandbox's decisions.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from batcher.sandbox.bodies import json_body, parse_model, path_uuid, principal
from batcher.sandbox.context import AppContext, context
from batcher.sandbox.errors import ApiError, from_pydantic
from batcher.sandbox.sas import iso_z
from batcher.sandbox.state import DeliveryAttempt, Subscription

EventType = Literal["asset.processing.completed", "asset.processing.failed"]
_SECRET_BYTES = 24
_LIMIT = TypeAdapter(Annotated[int, Field(ge=1, le=200)])
_STATUS_FILTER = TypeAdapter(Literal["succeeded", "failed"])


def _https(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("endpointUrl must be an absolute https:// URL")
    return url


EndpointUrl = Annotated[str, Field(min_length=1, max_length=2083), AfterValidator(_https)]


class CreateSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpointUrl: EndpointUrl
    eventTypes: list[EventType] = Field(min_length=1)
    description: str | None = None


class UpdateSubscription(BaseModel):
    """Undocumented: every field optional; ``enabled: false`` pauses deliveries."""

    model_config = ConfigDict(extra="forbid")

    endpointUrl: EndpointUrl | None = None
    eventTypes: list[EventType] | None = Field(default=None, min_length=1)
    description: str | None = None
    enabled: bool | None = None


class FireEvents(BaseModel):
    model_config = ConfigDict(extra="forbid")

    eventType: EventType
    submissionId: uuid.UUID
    errorMessage: str | None = None


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def subscription_body(sub: Subscription, *, with_secret: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": sub.id,
        "workspaceId": sub.workspace_id,
        "endpointUrl": sub.endpoint_url,
        "eventTypes": list(sub.event_types),
        "enabled": sub.enabled,
        "createdAt": iso_z(sub.created_at),
        "updatedAt": iso_z(sub.updated_at),
        "description": sub.description,
    }
    if with_secret:
        body["secret"] = sub.secret
    return body


def _unique(types: list[EventType]) -> list[str]:
    return list(dict.fromkeys(types))


def _own(ctx: AppContext, request: web.Request) -> Subscription:
    sub_id = path_uuid(request, "subscription_id")
    sub = ctx.state.webhook_subscriptions.get(sub_id)
    if sub is None or sub.workspace_id != principal(request).workspace_id:
        raise ApiError(404, "Webhook subscription not found")
    return sub


async def create_subscription(request: web.Request) -> web.Response:
    ctx = context(request)
    body = parse_model(CreateSubscription, await json_body(request))
    workspace = principal(request).workspace_id
    count = sum(1 for s in ctx.state.webhook_subscriptions.values() if s.workspace_id == workspace)
    if count >= ctx.config.webhook_subscription_limit:
        raise ApiError(
            422,
            "Webhook subscription limit reached: at most "
            f"{ctx.config.webhook_subscription_limit} per workspace",
        )
    now = ctx.clock()
    sub = Subscription(
        id=str(uuid.uuid4()),
        workspace_id=workspace,
        endpoint_url=body.endpointUrl,
        event_types=_unique(body.eventTypes),
        description=body.description,
        secret=new_secret(),
        created_at=now,
        updated_at=now,
    )
    ctx.state.webhook_subscriptions[sub.id] = sub
    await ctx.journal.subscription(sub)
    return web.json_response(subscription_body(sub, with_secret=True), status=201)


async def list_subscriptions(request: web.Request) -> web.Response:
    ctx = context(request)
    workspace = principal(request).workspace_id
    subs = [
        subscription_body(s)
        for s in ctx.state.webhook_subscriptions.values()
        if s.workspace_id == workspace
    ]
    return web.json_response({"subscriptions": subs, "total": len(subs)})


async def get_subscription(request: web.Request) -> web.Response:
    return web.json_response(subscription_body(_own(context(request), request)))


async def update_subscription(request: web.Request) -> web.Response:
    ctx = context(request)
    sub = _own(ctx, request)
    body = parse_model(UpdateSubscription, await json_body(request))
    if body.endpointUrl is not None:
        sub.endpoint_url = body.endpointUrl
    if body.eventTypes is not None:
        sub.event_types = _unique(body.eventTypes)
    if "description" in body.model_fields_set:
        sub.description = body.description
    if body.enabled is not None:
        sub.enabled = body.enabled
    sub.updated_at = ctx.clock()
    await ctx.journal.subscription(sub)
    return web.json_response(subscription_body(sub))


async def delete_subscription(request: web.Request) -> web.Response:
    ctx = context(request)
    sub = _own(ctx, request)
    sub.enabled = False  # deliveries waiting for a retry see this and stop
    del ctx.state.webhook_subscriptions[sub.id]
    await ctx.journal.subscription_deleted(sub.id)
    return web.Response(status=204)


def _query(adapter: TypeAdapter[Any], request: web.Request, name: str, default: Any) -> Any:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return adapter.validate_python(raw, strict=False)
    except ValidationError as exc:
        error = from_pydantic(exc, "query")
        for item in error.body["detail"]:
            item["loc"] = ["query", name]
        raise error from None


def attempt_body(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "status": attempt.status,
        "createdAt": iso_z(attempt.created_at),
        "responseStatus": attempt.response_status,
        "eventId": attempt.event_id,
    }


async def list_deliveries(request: web.Request) -> web.Response:
    ctx = context(request)
    sub = _own(ctx, request)
    limit: int = _query(_LIMIT, request, "limit", 50)
    status: str | None = _query(_STATUS_FILTER, request, "status_filter", None)
    attempts = [
        a
        for a in reversed(ctx.state.webhook_attempts)  # newest first
        if a.subscription_id == sub.id and (status is None or a.status == status)
    ][:limit]
    # The reference: "total" is the number of attempts returned (there is no paging cursor).
    return web.json_response(
        {"attempts": [attempt_body(a) for a in attempts], "total": len(attempts)}
    )


async def fire_events(request: web.Request) -> web.Response:
    ctx = context(request)
    who = principal(request)
    if not who.is_test:
        raise ApiError(403, "Sandbox events can only be fired with a sandbox (sk_test_) key")
    body = parse_model(FireEvents, await json_body(request))
    record = ctx.state.submissions.get(str(body.submissionId))
    if record is None or record.workspace_id != who.workspace_id:
        raise ApiError(404, "Submission not found")
    dispatched = ctx.webhooks.fire(record, body.eventType, body.errorMessage)
    return web.json_response({"dispatched": dispatched})
