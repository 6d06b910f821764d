"""The ONE place where aiohttp exceptions and MediaMagic HTTP statuses become batcher errors.

Model: httpx's ``map_httpcore_exceptions``. Stages never look at status codes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp

from batcher.errors import (
    ApiError,
    AuthenticationError,
    PlanError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)
from batcher.redact import redact

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
    "Asset already submitted": "already_submitted",
    "Invalid blob path": "invalid_blob_path",
}


def parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        # An HTTP-date is allowed by RFC 9110 but the API documents seconds; be safe.
        return None


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


def error_for_status(status: int, text: str, headers: dict[str, str]) -> Exception:
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        body = None
    message = redact(_message_of(body, text[:300] or f"HTTP {status}"))
    if status == 401:
        return AuthenticationError(f"API key refused: {message}", http_status=401)
    if status == 402:
        return PlanError(f"plan does not allow the Integrations API: {message}", http_status=402)
    if status == 429:
        return RateLimitedError(message, retry_after=parse_retry_after(headers.get("Retry-After")))
    if status in (500, 502):
        return ServerError(message, http_status=status)
    code = _DETAIL_CODES.get(message) or _CODES.get(status, f"http_{status}")
    # 503/504 are not documented for the API; gateways in front of it produce them, and
    # they mean "not processed", so retrying is safe.
    retryable = status in (503, 504)
    return ApiError(message, code=code, http_status=status, retryable=retryable)


@contextmanager
def map_transport_errors(what: str) -> Iterator[None]:
    """Translate aiohttp's failures to send or receive into TransportError.

    ``ambiguous`` is False only when the request surely never reached the server.
    """
    try:
        yield
    except aiohttp.ClientConnectorError as exc:
        raise TransportError(f"{what}: cannot connect ({exc.strerror})", ambiguous=False) from None
    except TimeoutError:
        raise RequestTimeoutError(f"{what}: no answer within the request timeout") from None
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        raise TransportError(f"{what}: connection lost ({type(exc).__name__})") from None
    except aiohttp.ClientPayloadError as exc:
        raise TransportError(f"{what}: truncated answer ({type(exc).__name__})") from None
    except aiohttp.ClientResponseError as exc:
        raise TransportError(f"{what}: bad answer (HTTP {exc.status})") from None
    except aiohttp.ClientError as exc:
        raise TransportError(f"{what}: {type(exc).__name__}") from None
