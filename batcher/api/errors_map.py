"""How the MediaMagic API's error *answers* (status + body) become batcher errors; transport
failures go through the one translator, ``batcher.http_errors``. Stages never look at status
codes: they test the classes (``AlreadySubmittedError``, ``ConflictError`` ...)."""

from __future__ import annotations

import json
import time
from contextlib import AbstractContextManager
from typing import Any

from batcher.errors import (
    AlreadySubmittedError,
    ApiError,
    AuthenticationError,
    ConflictError,
    PlanError,
    RateLimitedError,
    ServerError,
)
from batcher.http_errors import parse_retry_after, translate_transport_errors
from batcher.redact import Redactor

# Report ``error.code`` per status. Only 429, 500 and 502 are documented as safe to retry.
_CODES: dict[int, str] = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
}
_DETAIL_CODES: dict[str, str] = {
    "Invalid blob path": "invalid_blob_path",
}


def _message_of(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail
        if isinstance(detail, list):  # 422 envelope: [{loc, msg, type}, ...]
            parts = []
            for item in detail:
                if isinstance(item, dict):
                    loc = ".".join(str(p) for p in item.get("loc", []))
                    parts.append(f"{loc}: {item.get('msg', '')}".strip(": "))
            if parts:
                return "; ".join(parts)
        for key in ("error", "message"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return fallback


MAX_MESSAGE = 300
"""Longest service text kept in a message, counted after redaction."""


def error_for_status(
    status: int, text: str, headers: dict[str, str], *, redactor: Redactor | None = None
) -> Exception:
    """``redactor`` knows the run's secrets (the key, whatever its shape): the body is the
    service's text, untrusted, and may echo them. Redacted first, then cut."""
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        body = None
    raw = _message_of(body, text or f"HTTP {status}")
    message = (redactor or Redactor()).untrusted(raw, MAX_MESSAGE) or f"HTTP {status}"
    known = raw.strip()  # the documented details are matched before any cut or cleaning
    if status == 401:
        return AuthenticationError(f"API key refused: {message}", http_status=401)
    if status == 402:
        return PlanError(f"plan does not allow the Integrations API: {message}", http_status=402)
    if status == 429:
        retry_after = parse_retry_after(headers.get("Retry-After"), now_wall=time.time())
        return RateLimitedError(message, retry_after=retry_after)
    if status in (500, 502):
        return ServerError(message, http_status=status)
    if status == 409:
        if known == "Asset already submitted":
            return AlreadySubmittedError(message, http_status=409)
        return ConflictError(message, http_status=409)
    code = _DETAIL_CODES.get(known) or _CODES.get(status, f"http_{status}")
    # 503/504 are not documented for the API; gateways in front of it produce them, and
    # they mean "not processed", so retrying is safe.
    retryable = status in (503, 504)
    return ApiError(message, code=code, http_status=status, retryable=retryable)


def map_transport_errors(
    what: str, redactor: Redactor | None = None
) -> AbstractContextManager[None]:
    """This request's transport failures, through the one translator (``http_errors``)."""
    return translate_transport_errors(what, (redactor or Redactor()).untrusted)
