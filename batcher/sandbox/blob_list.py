"""Put Block List (commit) and Get Block List, with Azure's XML shapes."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

import anyio.to_thread
from aiohttp import web

from batcher.sandbox.blob_common import (
    b64,
    base_headers,
    content_md5,
    http_date,
    md5_mismatch,
    require_length,
    require_write,
)
from batcher.sandbox.blobs import Part, StoredBlob, digest_parts
from batcher.sandbox.context import AppContext
from batcher.sandbox.errors import BlobError
from batcher.sandbox.sas import require_permission

# 50,000 ids of at most 88 base64 characters plus tags fit comfortably in this.
_MAX_BLOCK_LIST_BODY = 16 * 1024 * 1024
_KINDS = ("Committed", "Uncommitted", "Latest")


def _invalid_xml() -> BlobError:
    return BlobError(400, "InvalidXmlDocument", "XML specified is not syntactically valid.")


def _invalid_list() -> BlobError:
    return BlobError(400, "InvalidBlockList", "The specified block list is invalid.")


def parse_block_list(body: bytes) -> list[tuple[str, str]]:
    """``[(kind, block id)]`` in commit order, or InvalidXmlDocument."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise _invalid_xml() from None
    if root.tag != "BlockList":
        raise _invalid_xml()
    entries: list[tuple[str, str]] = []
    for child in root:
        if child.tag not in _KINDS or len(child):
            raise _invalid_xml()
        entries.append((child.tag, (child.text or "").strip()))
    return entries


def resolve(blob: StoredBlob | None, entries: list[tuple[str, str]], limit: int) -> list[Part]:
    if len(entries) > limit:
        raise _invalid_list()
    committed = {p.block_id: p for p in (blob.committed or [])} if blob else {}
    uncommitted = blob.uncommitted if blob else {}
    parts: list[Part] = []
    for kind, block_id in entries:
        part: Part | None
        if kind == "Committed":
            part = committed.get(block_id)
        elif kind == "Uncommitted":
            part = uncommitted.get(block_id)
        else:
            part = uncommitted.get(block_id) or committed.get(block_id)
        if part is None:
            raise _invalid_list()
        parts.append(part)
    return parts


async def put_block_list(
    ctx: AppContext, request: web.Request, blob_path: str, permissions: str
) -> web.Response:
    require_write(permissions, ctx.store.get(blob_path))
    require_length(request, _MAX_BLOCK_LIST_BODY)
    expected_md5 = content_md5(request)
    body = await ctx.link.read_all(request.content.iter_any())
    if expected_md5 is not None and expected_md5 != hashlib.md5(body).digest():
        raise md5_mismatch()
    entries = parse_block_list(body)
    blob = ctx.store.entry(blob_path)
    async with blob.lock:
        parts = resolve(blob, entries, ctx.config.blob_max_block_list)
        # Hashing a multi-GB blob takes seconds: do it off the event loop, once, at commit.
        md5, sha = await anyio.to_thread.run_sync(digest_parts, parts)
        # Azure stores no whole-blob Content-MD5 for a block list commit unless the client
        # sets x-ms-blob-content-md5; keep ours for Get Blob only when the client asked.
        keep_md5 = "x-ms-blob-content-md5" in request.headers
        await ctx.store.replace(
            blob_path,
            blob,
            parts,
            md5 if keep_md5 else None,
            sha,
            ctx.clock(),
            request.headers.get("x-ms-blob-content-type"),
        )
        stats = ctx.state.blob(blob_path)
        stats.committed_size = blob.size
        stats.committed_md5 = b64(md5)
        stats.committed_sha256 = sha.hex()
        headers = base_headers(request) | {
            "ETag": blob.etag,
            "Last-Modified": http_date(blob.last_modified),
            "x-ms-request-server-encrypted": "true",
        }
    return web.Response(status=201, headers=headers)


def _blocks_xml(tag: str, parts: list[Part]) -> str:
    blocks = "".join(
        f"<Block><Name>{escape(p.block_id or '')}</Name><Size>{p.size}</Size></Block>"
        for p in parts
    )
    return f"<{tag}>{blocks}</{tag}>" if blocks else f"<{tag} />"


def get_block_list(
    ctx: AppContext, request: web.Request, blob_path: str, permissions: str
) -> web.Response:
    require_permission(permissions, "r")
    kind = request.query.get("blocklisttype", "committed")
    if kind not in ("committed", "uncommitted", "all"):
        raise BlobError(
            400,
            "InvalidQueryParameterValue",
            "Value for one of the query parameters specified in the request URI is invalid.",
        )
    blob = ctx.store.get(blob_path)
    if blob is None or (blob.committed is None and not blob.uncommitted):
        raise BlobError(404, "BlobNotFound", "The specified blob does not exist.")
    xml = '<?xml version="1.0" encoding="utf-8"?><BlockList>'
    if kind in ("committed", "all"):
        xml += _blocks_xml("CommittedBlocks", list(blob.committed or []))
    if kind in ("uncommitted", "all"):
        xml += _blocks_xml("UncommittedBlocks", list(blob.uncommitted.values()))
    xml += "</BlockList>"
    headers = base_headers(request)
    if blob.committed is not None:
        headers |= {
            "ETag": blob.etag,
            "Last-Modified": http_date(blob.last_modified),
            "x-ms-blob-content-length": str(blob.size),
        }
    return web.Response(
        status=200, body=xml.encode(), content_type="application/xml", headers=headers
    )
