"""The Azure Blob REST endpoint behind the SAS URLs: Put Blob, Put Block, Put Block List,
Get Block List and Get Blob, with Azure's status codes and ``x-ms-error-code`` values."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

import anyio.to_thread
from aiohttp import web

from batcher.sandbox.blob_common import (
    b64,
    base_headers,
    blob_path_of,
    content_md5,
    endpoint_name,
    http_date,
    md5_mismatch,
    require_length,
    require_write,
)
from batcher.sandbox.blob_list import get_block_list, put_block_list
from batcher.sandbox.blobs import Part
from batcher.sandbox.context import AppContext, context
from batcher.sandbox.errors import BlobError
from batcher.sandbox.sas import require_permission, verify

_MAX_BLOCK_ID_BYTES = 64


async def handle_blob(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    blob_path = blob_path_of(request)
    name = endpoint_name(request)
    if not blob_path:
        raise BlobError(
            400, "InvalidUri", "The requested URI does not represent any resource on the server."
        )
    ctx.state.blob(blob_path).operations[name] += 1
    if "X-API-Key" in request.headers or "Authorization" in request.headers:
        # Azure would ignore it; a leak of the API key to the storage host all the same.
        ctx.state.blob_requests_with_credentials += 1
    permissions = verify(ctx.sas_secret, request.query, blob_path, ctx.clock())
    if name == "blob_put_blob":
        return await put_blob(ctx, request, blob_path, permissions)
    if name == "blob_put_block":
        return await put_block(ctx, request, blob_path, permissions)
    if name == "blob_put_block_list":
        return await put_block_list(ctx, request, blob_path, permissions)
    if name == "blob_get_block_list":
        return get_block_list(ctx, request, blob_path, permissions)
    if name == "blob_get_blob":
        return await get_blob(ctx, request, blob_path, permissions)
    raise BlobError(
        400,
        "UnsupportedQueryParameter",
        "One of the query parameters specified in the request URI is not supported.",
    )


def _counter(ctx: AppContext, blob_path: str) -> Callable[[int], None]:
    stats = ctx.state.blob(blob_path)

    def count(n: int) -> None:
        stats.bytes_received += n
        ctx.state.blob_bytes_received += n

    return count


async def put_blob(
    ctx: AppContext, request: web.Request, blob_path: str, permissions: str
) -> web.Response:
    require_write(permissions, ctx.store.get(blob_path))
    blob_type = request.headers.get("x-ms-blob-type")
    if blob_type is None:
        raise BlobError(
            400,
            "MissingRequiredHeader",
            "An HTTP header that's mandatory for this request is not specified.",
        )
    if blob_type != "BlockBlob":
        # AppendBlob/PageBlob exist in Azure but nothing in this API uses them.
        raise BlobError(
            400,
            "InvalidHeaderValue",
            "The value for one of the HTTP headers is not in the correct format.",
        )
    require_length(request, ctx.config.blob_max_put_blob_bytes)
    expected_md5 = content_md5(request)
    received = await ctx.store.receive(
        ctx.link.paced(request.content.iter_any()), _counter(ctx, blob_path), with_sha256=True
    )
    assert received is not None and received.sha256 is not None
    if expected_md5 is not None and expected_md5 != received.md5:
        await ctx.store.discard(received)
        raise md5_mismatch()
    blob = ctx.store.entry(blob_path)
    async with blob.lock:
        content_type = request.headers.get("x-ms-blob-content-type") or request.headers.get(
            "Content-Type"
        )
        await ctx.store.replace(
            blob_path,
            blob,
            [received.part],
            received.md5,
            received.sha256,
            ctx.clock(),
            content_type,
        )
        _record_commit(ctx, blob_path, received.part.size, received.md5, received.sha256)
        headers = base_headers(request) | {
            "ETag": blob.etag,
            "Last-Modified": http_date(blob.last_modified),
            "Content-MD5": b64(received.md5),
            "x-ms-request-server-encrypted": "true",
        }
    return web.Response(status=201, headers=headers)


def _record_commit(ctx: AppContext, blob_path: str, size: int, md5: bytes, sha: bytes) -> None:
    stats = ctx.state.blob(blob_path)
    stats.committed_size = size
    stats.committed_md5 = b64(md5)
    stats.committed_sha256 = sha.hex()


def _block_id(request: web.Request) -> str:
    block_id = request.query.get("blockid")
    if not block_id:
        raise BlobError(
            400,
            "MissingRequiredQueryParameter",
            "A query parameter that's mandatory for this request is not specified.",
        )
    try:
        decoded = base64.b64decode(block_id, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if not decoded or len(decoded) > _MAX_BLOCK_ID_BYTES:
        raise BlobError(
            400,
            "InvalidQueryParameterValue",
            "Value for one of the query parameters specified in the request URI is invalid.",
        )
    return block_id


def _check_block_id_length(ctx: AppContext, blob_path: str, block_id: str) -> None:
    blob = ctx.store.get(blob_path)
    if blob is None:
        return
    if any(len(other) != len(block_id) for other in blob.uncommitted):
        raise BlobError(
            400, "InvalidBlobOrBlock", "The specified blob or block content is invalid."
        )
    if (
        block_id not in blob.uncommitted
        and len(blob.uncommitted) >= ctx.config.blob_max_uncommitted_blocks
    ):
        raise BlobError(
            409,
            "BlockCountExceedsLimit",
            "The uncommitted block count cannot exceed the maximum limit of 100,000 blocks.",
        )


async def put_block(
    ctx: AppContext, request: web.Request, blob_path: str, permissions: str
) -> web.Response:
    require_write(permissions, ctx.store.get(blob_path))
    block_id = _block_id(request)
    require_length(request, ctx.config.blob_max_block_bytes)
    expected_md5 = content_md5(request)
    _check_block_id_length(ctx, blob_path, block_id)
    received = await ctx.store.receive(
        ctx.link.paced(request.content.iter_any()), _counter(ctx, blob_path), block_id=block_id
    )
    assert received is not None
    if expected_md5 is not None and expected_md5 != received.md5:
        await ctx.store.discard(received)
        raise md5_mismatch()
    blob = ctx.store.entry(blob_path)
    async with blob.lock:
        try:
            # Checked again: blocks of another length may have landed while this one streamed.
            _check_block_id_length(ctx, blob_path, block_id)
        except BlobError:
            await ctx.store.discard(received)
            raise
        await ctx.store.add_block(blob_path, blob, received)
    headers = base_headers(request) | {
        "Content-MD5": b64(received.md5),
        "x-ms-request-server-encrypted": "true",
    }
    return web.Response(status=201, headers=headers)


async def get_blob(
    ctx: AppContext, request: web.Request, blob_path: str, permissions: str
) -> web.StreamResponse:
    require_permission(permissions, "r")
    blob = ctx.store.get(blob_path)
    if blob is None or blob.committed is None:
        raise BlobError(404, "BlobNotFound", "The specified blob does not exist.")
    parts = list(blob.committed)
    headers = base_headers(request) | {
        "ETag": blob.etag,
        "Last-Modified": http_date(blob.last_modified),
        "x-ms-blob-type": "BlockBlob",
        "Content-Type": blob.content_type or "application/octet-stream",
    }
    if blob.md5 is not None:
        headers["Content-MD5"] = b64(blob.md5)
    response = web.StreamResponse(status=200, headers=headers)
    response.content_length = sum(p.size for p in parts)
    await response.prepare(request)
    if request.method == "GET":
        offset, total = 0, response.content_length
        while offset < total:
            # Read at increasing offsets so a multi-GB blob is never held in memory whole.
            chunk = await anyio.to_thread.run_sync(_read_at, parts, offset)
            await response.write(chunk)
            offset += len(chunk)
    await response.write_eof()
    return response


def _read_at(parts: list[Part], offset: int) -> bytes:
    for part in parts:
        if offset < part.size:
            with part.path.open("rb") as fh:
                fh.seek(offset)
                return fh.read(1024 * 1024)
        offset -= part.size
    return b""
