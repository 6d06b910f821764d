"""The seam between the API client and HTTP: one request in, status + headers + text out.

``AiohttpApiTransport`` is the real one; ``batcher.api.testing.FakeMediaMagic`` is a
scriptable in-memory service for tests (the habit of httpx's ``MockTransport``). The client
(``api/client.py``) keeps everything above this line: rate-limit gates, retries, status
mapping, response validation.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from pydantic import SecretStr

from batcher.api.errors_map import map_transport_errors
from batcher.redact import Redactor

PREFIX = "/api/integrations"


@dataclass(frozen=True)
class FileUpload:
    """E2's multipart file: the bytes (small files, already read) or a path streamed from
    disk on every attempt."""

    filename: str
    content_type: str
    source: bytes | Path = field(repr=False)
    size: int

    def read(self) -> bytes:
        return self.source if isinstance(self.source, bytes) else self.source.read_bytes()


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    """Below the API prefix, e.g. ``/submissions/{id}``."""
    endpoint: str
    """The endpoint's name (``create_submission`` ...), for counters, logs and fakes."""
    timeout: float
    params: Mapping[str, str | int] = field(default_factory=dict)
    json: Any = None
    upload: FileUpload | None = None


@dataclass(frozen=True)
class ApiResponse:
    status: int
    headers: Mapping[str, str]
    text: str


class ApiTransport(Protocol):
    async def send(self, request: ApiRequest, *, key: SecretStr) -> ApiResponse:
        """Send one request with the key. Transport failures raise ``TransportError`` (or a
        subclass); any HTTP status is returned, not raised."""
        ...


class AiohttpApiTransport:
    """The key is sent per request, only to the API base URL: the shared session carries
    no default headers, so blob requests never see it."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base = base_url.rstrip("/")

    async def send(self, request: ApiRequest, *, key: SecretStr) -> ApiResponse:
        headers = {"X-API-Key": key.get_secret_value(), "Accept": "application/json"}
        kwargs: dict[str, Any] = {}
        if request.json is not None:
            kwargs["json"] = request.json
        # The key by value: a foreign error text that echoes it must not carry it on.
        with map_transport_errors(f"{request.method} {request.path}", Redactor.of(key)):
            if request.upload is None:
                return await self._send(request, headers, kwargs)
            up = request.upload
            if isinstance(up.source, bytes):
                kwargs["data"] = _form(io.BytesIO(up.source), up)  # BytesIO: aiohttp warns
                return await self._send(request, headers, kwargs)
            with up.source.open("rb") as fh:
                kwargs["data"] = _form(fh, up)
                return await self._send(request, headers, kwargs)

    async def _send(
        self, request: ApiRequest, headers: dict[str, str], kwargs: dict[str, Any]
    ) -> ApiResponse:
        async with self._session.request(
            request.method,
            self._base + PREFIX + request.path,
            headers=headers,
            params=dict(request.params) or None,
            timeout=aiohttp.ClientTimeout(total=request.timeout),
            **kwargs,
        ) as resp:
            text = await resp.text()
            return ApiResponse(resp.status, dict(resp.headers), text)


def _form(body: io.BufferedIOBase | io.BytesIO | Any, up: FileUpload) -> aiohttp.FormData:
    # quote_fields=False: aiohttp would otherwise percent-encode the file name, and the
    # service stores the name it receives ("a b.pdf" would become "a%20b.pdf").
    fd = aiohttp.FormData(quote_fields=False)
    fd.add_field("file", body, filename=up.filename, content_type=up.content_type)
    return fd
