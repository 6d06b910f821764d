"""The four Azure Blob operations the uploader needs, as single requests on a SAS URL.

Only headers Azure needs are sent. ``x-ms-version`` is omitted on purpose: with a SAS the
service then uses the token's ``sv``, and Azurite rejects versions newer than it knows
(docs/blob.md).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from batcher.blob.errors import error_from_response
from batcher.blob.reader import Chunk, md5_b64
from batcher.blob.sas import with_params
from batcher.blob.transport import BlobResponse, BlobTransport


def _expect(resp: BlobResponse, status: int, op: str, url: object) -> None:
    if resp.status != status:
        raise error_from_response(op, str(url), resp.status, resp.headers, resp.body)


async def put_blob(
    transport: BlobTransport,
    sas_url: str,
    chunk: Chunk,
    *,
    content_type: str | None,
    time_limit: float,
) -> None:
    url = with_params(sas_url)
    headers = {"x-ms-blob-type": "BlockBlob", "Content-MD5": chunk.md5}
    if content_type:
        headers["Content-Type"] = content_type
    resp = await transport.request(
        "PUT", url, op="Put Blob", headers=headers, body=chunk.data, time_limit=time_limit
    )
    _expect(resp, 201, "Put Blob", url)


async def put_block(
    transport: BlobTransport, sas_url: str, block_id: str, chunk: Chunk, *, time_limit: float
) -> None:
    url = with_params(sas_url, comp="block", blockid=block_id)
    resp = await transport.request(
        "PUT",
        url,
        op="Put Block",
        headers={"Content-MD5": chunk.md5},
        body=chunk.data,
        time_limit=time_limit,
    )
    _expect(resp, 201, "Put Block", url)


def block_list_xml(block_ids: list[str]) -> bytes:
    # Base64 ids contain only [A-Za-z0-9+/=]: nothing to escape.
    latest = "".join(f"<Latest>{bid}</Latest>" for bid in block_ids)
    return f'<?xml version="1.0" encoding="utf-8"?><BlockList>{latest}</BlockList>'.encode()


async def put_block_list(
    transport: BlobTransport,
    sas_url: str,
    block_ids: list[str],
    *,
    content_type: str | None,
    time_limit: float,
) -> None:
    url = with_params(sas_url, comp="blocklist")
    body = block_list_xml(block_ids)
    headers = {"Content-Type": "application/xml", "Content-MD5": md5_b64(body)}
    if content_type:
        headers["x-ms-blob-content-type"] = content_type
    resp = await transport.request(
        "PUT", url, op="Put Block List", headers=headers, body=body, time_limit=time_limit
    )
    _expect(resp, 201, "Put Block List", url)


def parse_uncommitted(body: bytes) -> dict[str, int]:
    root = ET.fromstring(body)
    found: dict[str, int] = {}
    for block in root.iterfind("./UncommittedBlocks/Block"):
        name = block.findtext("Name")
        size = block.findtext("Size")
        if name and size and size.isdigit():
            found[name] = int(size)
    return found


async def get_uncommitted_blocks(
    transport: BlobTransport, sas_url: str, *, time_limit: float
) -> dict[str, int]:
    """Block id -> size of the blob's uncommitted blocks (needs ``r`` in the SAS)."""
    url = with_params(sas_url, comp="blocklist", blocklisttype="uncommitted")
    resp = await transport.request(
        "GET", url, op="Get Block List", headers={}, body=None, time_limit=time_limit
    )
    _expect(resp, 200, "Get Block List", url)
    return parse_uncommitted(resp.body)
