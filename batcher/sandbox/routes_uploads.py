"""E1 (presigned upload URL) and E2 (direct multipart upload)."""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator

from aiohttp import BodyPartReader, web
from pydantic import BaseModel, ConfigDict

from batcher.sandbox.blob_common import b64
from batcher.sandbox.bodies import json_body, parse_model, principal
from batcher.sandbox.config import ALLOWED_CONTENT_TYPES
from batcher.sandbox.context import AppContext, context
from batcher.sandbox.errors import ApiError, validation_error
from batcher.sandbox.link import Link
from batcher.sandbox.sas import iso_z, make_upload_url
from batcher.sandbox.state import IssuedPath

_MAX_FILENAME_BYTES = 255
_CHUNK = 256 * 1024


class UploadUrlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str
    contentType: str


def valid_filename(name: str) -> bool:
    """The docs give no rules (only "invalid → 403"); we refuse what cannot be a single
    path segment: empty, separators, control characters, "." / "..", over 255 UTF-8 bytes.
    Spaces and non-ASCII letters are fine."""
    if name in ("", ".", "..") or "/" in name or "\\" in name:
        return False
    if len(name.encode("utf-8", "surrogatepass")) > _MAX_FILENAME_BYTES:
        return False
    return not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name)


def _check_type_and_name(content_type: str | None, filename: str) -> None:
    if content_type is None or content_type not in ALLOWED_CONTENT_TYPES:
        raise ApiError(415, f"Content type {content_type or '(none)'} is not allowed")
    if not valid_filename(filename):
        raise ApiError(403, "Invalid filename")


async def _issue(ctx: AppContext, workspace_id: str, filename: str, content_type: str) -> str:
    # One path per name: a second upload with the same filename replaces the blob.
    blob_path = f"{workspace_id}/{filename}"
    issued = IssuedPath(blob_path, workspace_id, filename, content_type)
    ctx.state.issued[blob_path] = issued
    await ctx.journal.issued(issued)
    return blob_path


async def upload_url(request: web.Request) -> web.Response:
    ctx = context(request)
    body = parse_model(UploadUrlRequest, await json_body(request))
    _check_type_and_name(body.contentType, body.filename)
    blob_path = await _issue(ctx, principal(request).workspace_id, body.filename, body.contentType)
    expires_at = ctx.clock() + ctx.config.sas_lifetime_seconds
    url = make_upload_url(
        ctx.base_url, ctx.sas_secret, blob_path, ctx.config.sas_permissions, expires_at
    )
    return web.json_response(
        {"uploadUrl": url, "blobPath": blob_path, "expiresAt": iso_z(expires_at)}
    )


async def _part_chunks(part: BodyPartReader, link: Link) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(_CHUNK):
        await link.take(len(chunk))
        yield chunk


def _missing_file() -> ApiError:
    return validation_error(
        [{"loc": ["body", "file"], "msg": "Field required", "type": "missing", "input": None}]
    )


async def _file_part(request: web.Request) -> BodyPartReader:
    if not request.content_type.startswith("multipart/"):
        raise _missing_file()
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            raise _missing_file()
        if isinstance(part, BodyPartReader) and part.name == "file":
            return part
        # Other fields are ignored; reader.next() skips the rest of this part.


async def direct_upload(request: web.Request) -> web.Response:
    ctx = context(request)
    part = await _file_part(request)
    if part.filename is None:
        # A part without a filename is a plain form value, not a file: FastAPI says 422.
        raise validation_error(
            [
                {
                    "loc": ["body", "file"],
                    "msg": "Expected UploadFile, received: <class 'str'>",
                    "type": "value_error",
                    "input": None,
                }
            ]
        )
    raw_type = part.headers.get("Content-Type")
    content_type = raw_type.split(";", 1)[0].strip().lower() if raw_type else None
    _check_type_and_name(content_type, part.filename)
    assert content_type is not None
    filename = part.filename
    blob_path = f"{principal(request).workspace_id}/{filename}"
    stats = ctx.state.blob(blob_path)
    stats.operations["direct_upload"] += 1

    def count(n: int) -> None:
        stats.bytes_received += n
        ctx.state.blob_bytes_received += n

    received = await ctx.store.receive(
        _part_chunks(part, ctx.link), count, with_sha256=True, limit=ctx.config.direct_max_bytes
    )
    if received is None:
        raise ApiError(
            413,
            "File exceeds 10MB limit; use the presigned upload flow "
            "(POST /api/integrations/uploads/url)",
        )
    assert received.sha256 is not None
    blob = ctx.store.entry(blob_path)
    async with blob.lock:
        await ctx.store.replace(
            blob_path,
            blob,
            [received.part],
            received.md5,
            received.sha256,
            ctx.clock(),
            content_type,
        )
    stats.committed_size = received.part.size
    stats.committed_md5 = b64(received.md5)
    stats.committed_sha256 = received.sha256.hex()
    await _issue(ctx, principal(request).workspace_id, filename, content_type)
    # The reference names this DirectUploadResponse but shows no fields ("storage path and
    # file metadata"); this shape is our choice. Clients should rely on blobPath only.
    return web.json_response(
        {
            "blobPath": blob_path,
            "filename": filename,
            "contentType": content_type,
            "size": received.part.size,
        },
        status=201,
    )
