"""Request parsing that fails the way FastAPI fails: 422 with ``loc`` paths."""

from __future__ import annotations

import json
import uuid
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from batcher.sandbox.auth import Principal
from batcher.sandbox.errors import ApiError, from_pydantic, invalid_uuid, validation_error

M = TypeVar("M", bound=BaseModel)

PRINCIPAL = web.RequestKey("batcher.sandbox.principal", Principal)


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


async def json_body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        raise validation_error(
            [{"loc": ["body"], "msg": "Field required", "type": "missing", "input": None}]
        )
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        pos = getattr(exc, "pos", 0)
        raise validation_error(
            [
                {
                    "loc": ["body", pos],
                    "msg": "JSON decode error",
                    "type": "json_invalid",
                    "input": {},
                }
            ]
        ) from None


def parse_model(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_pydantic(exc, "body") from None


def path_uuid(request: web.Request, name: str) -> str:
    """Path ids are UUIDs; anything else is a 422 (E9 documents "bad path parameters")."""
    value = request.match_info[name]
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise invalid_uuid("path", name, value) from None


def not_found(detail: str = "Not Found") -> ApiError:
    return ApiError(404, detail)
