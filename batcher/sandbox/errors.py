"""Error responses in the exact shapes the real services use.

The API (FastAPI behind it) answers ``{"detail": ...}``; Azure Blob answers an XML
``<Error>`` document plus the ``x-ms-error-code`` header. Handlers raise ``ApiError`` or
``BlobError`` and the middleware renders them, so no handler builds error bodies by hand.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web
from pydantic import ValidationError

ASSETS_DOCS_URL = "https://docs.mediamagic.app/concepts/assets"


class ApiError(Exception):
    """A domain error: ``{"detail": "...", "docs_url": optional}`` or any prepared body."""

    def __init__(
        self,
        status: int,
        detail: str | list[dict[str, Any]],
        *,
        docs_url: str | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, detail)
        self.status = status
        self.headers = headers or {}
        if body is None:
            body = {"detail": detail}
            if docs_url is not None:
                body["docs_url"] = docs_url
        self.body = body

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.status, headers=self.headers)


def validation_error(errors: Sequence[dict[str, Any]]) -> ApiError:
    """422 in FastAPI's shape: ``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}``."""
    return ApiError(422, list(errors))


def from_pydantic(exc: ValidationError, prefix: str) -> ApiError:
    """Translate a pydantic error the way FastAPI does: ``loc`` starts with body/query/path."""
    errors = [
        {
            "loc": [prefix, *e["loc"]],
            "msg": e["msg"],
            "type": e["type"],
            "input": e.get("input"),
        }
        for e in exc.errors(include_url=False, include_context=False)
    ]
    return validation_error(errors)


def invalid_uuid(where: str, name: str, value: str) -> ApiError:
    return validation_error(
        [
            {
                "loc": [where, name],
                "msg": "Input should be a valid UUID",
                "type": "uuid_parsing",
                "input": value,
            }
        ]
    )


class BlobError(Exception):
    """An Azure Blob error: XML body, ``x-ms-error-code`` header."""

    def __init__(
        self, status: int, code: str, message: str, *, auth_detail: str | None = None
    ) -> None:
        super().__init__(status, code)
        self.status = status
        self.code = code
        self.message = message
        self.auth_detail = auth_detail

    def response(self, request_id: str | None = None) -> web.Response:
        request_id = request_id or str(uuid.uuid4())
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
        # Azure appends RequestId and Time to every message.
        message = f"{self.message}\nRequestId:{request_id}\nTime:{now}"
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f"<Error><Code>{escape(self.code)}</Code><Message>{escape(message)}</Message>"
        )
        if self.auth_detail is not None:
            xml += (
                f"<AuthenticationErrorDetail>{escape(self.auth_detail)}</AuthenticationErrorDetail>"
            )
        xml += "</Error>"
        return web.Response(
            status=self.status,
            body=xml.encode(),
            content_type="application/xml",
            headers={"x-ms-error-code": self.code, "x-ms-request-id": request_id},
        )


AUTH_FAILED_MESSAGE = (
    "Server failed to authenticate the request. Make sure the value of Authorization "
    "header is formed correctly including the signature."
)


def auth_failed(detail: str | None = None) -> BlobError:
    return BlobError(403, "AuthenticationFailed", AUTH_FAILED_MESSAGE, auth_detail=detail)
