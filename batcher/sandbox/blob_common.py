"""Pieces shared by the blob handlers: path and header parsing, standard response headers."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import unquote

from aiohttp import web

from batcher.sandbox.blobs import StoredBlob
from batcher.sandbox.errors import BlobError
from batcher.sandbox.sas import BLOB_PREFIX, SAS_VERSION, require_permission


def blob_path_of(request: web.Request) -> str:
    """The decoded blob name. Parsed from the raw path so escapes such as ``%25`` decode
    exactly once, as Azure decodes them."""
    raw = request.rel_url.raw_path
    return unquote(raw[len(BLOB_PREFIX) :]) if raw.startswith(BLOB_PREFIX) else ""


def endpoint_name(request: web.Request) -> str:
    comp = request.query.get("comp")
    if request.method == "PUT":
        names = {"block": "blob_put_block", "blocklist": "blob_put_block_list"}
        return "blob_put_blob" if comp is None else names.get(comp, "blob_unsupported")
    if request.method in ("GET", "HEAD"):
        if comp == "blocklist":
            return "blob_get_block_list"
        return "blob_get_blob" if comp is None else "blob_unsupported"
    return "blob_unsupported"


def http_date(ts: float) -> str:
    return format_datetime(datetime.fromtimestamp(ts, UTC), usegmt=True)


def base_headers(request: web.Request) -> dict[str, str]:
    return {
        "x-ms-request-id": str(uuid.uuid4()),
        # Tolerant of any x-ms-version (or none): echo what the client speaks.
        "x-ms-version": request.headers.get("x-ms-version", SAS_VERSION),
        "Date": http_date(datetime.now(UTC).timestamp()),
    }


def require_write(permissions: str, blob: StoredBlob | None) -> None:
    """``w`` may always write; ``c`` only while no committed blob exists (create, not
    overwrite), as in Azure's SAS permission table."""
    if "w" in permissions:
        return
    if "c" in permissions and (blob is None or blob.committed is None):
        return
    require_permission(permissions, "w")


def require_length(request: web.Request, limit: int) -> int:
    length = request.content_length
    if length is None:
        raise BlobError(411, "MissingContentLengthHeader", "Content-Length header is required.")
    if length > limit:
        raise BlobError(
            413,
            "RequestBodyTooLarge",
            "The request body is too large and exceeds the maximum permissible limit.",
        )
    return length


def content_md5(request: web.Request) -> bytes | None:
    value = request.headers.get("Content-MD5")
    if value is None:
        return None
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        raise BlobError(
            400,
            "InvalidMd5",
            "The MD5 value specified in the request is invalid. "
            "The MD5 value must be 128 bits and Base64-encoded.",
        )
    return digest


def md5_mismatch() -> BlobError:
    return BlobError(
        400,
        "Md5Mismatch",
        "The MD5 value specified in the request did not match with the MD5 value "
        "calculated by the server.",
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
