"""E4's all-or-nothing asset validation and the asset records it creates.

Content inspection (magic numbers, UTF-8, failure markers) reads files in worker threads
*before* any decision; the decisions themselves run synchronously in request order, so the
first failing asset decides the status and nothing can change between check and commit.
"""

from __future__ import annotations

import codecs
import uuid
from dataclasses import dataclass

import anyio.to_thread

from batcher.sandbox.blobs import Part
from batcher.sandbox.config import ALLOWED_CONTENT_TYPES
from batcher.sandbox.context import AppContext
from batcher.sandbox.errors import ASSETS_DOCS_URL, ApiError
from batcher.sandbox.findings import findings_for
from batcher.sandbox.magic import PREFIX_BYTES, is_plain_text_chunk, matches, needs_full_content
from batcher.sandbox.processing import BROKEN_MARKER, FLAKY_MARKER
from batcher.sandbox.state import AssetRecord, IssuedPath, Outcome

_READ = 1024 * 1024
_OVERLAP = max(len(FLAKY_MARKER), len(BROKEN_MARKER)) - 1


@dataclass(frozen=True)
class Inspection:
    type_matches: bool
    outcome: Outcome


def inspect(parts: list[Part], content_type: str) -> Inspection:
    """One streaming pass over the content. Blocking: run in a worker thread. Parts scanned
    as they arrived need no pass, except for text types (UTF-8 is checked in full)."""
    if not needs_full_content(content_type) and all(p.scan is not None for p in parts):
        return _inspect_scanned(parts, content_type)
    head = bytearray()
    flaky = broken = False
    tail = b""
    text = needs_full_content(content_type)
    decoder = codecs.getincrementaldecoder("utf-8")()
    text_ok = True
    for part in parts:
        with part.path.open("rb") as fh:
            while chunk := fh.read(_READ):
                if len(head) < PREFIX_BYTES:
                    head += chunk[: PREFIX_BYTES - len(head)]
                # Keep a marker-sized tail so a marker split across reads is still found.
                window = tail + chunk
                flaky = flaky or FLAKY_MARKER in window
                broken = broken or BROKEN_MARKER in window
                tail = window[-_OVERLAP:]
                if text and text_ok:
                    text_ok = is_plain_text_chunk(decoder, chunk)
    if text:
        type_ok = text_ok and bool(head) and is_plain_text_chunk(decoder, b"", final=True)
    else:
        type_ok = matches(content_type, bytes(head))
    outcome: Outcome = "broken" if broken else "flaky" if flaky else "ok"
    return Inspection(type_ok, outcome)


def _inspect_scanned(parts: list[Part], content_type: str) -> Inspection:
    """The same answer as the full pass, from each part's ContentScan: markers inside parts,
    plus markers across the seams between parts."""
    head = bytearray()
    found: set[bytes] = set()
    tail = b""
    for part in parts:
        scan = part.scan
        assert scan is not None
        if len(head) < PREFIX_BYTES:
            head += scan.head[: PREFIX_BYTES - len(head)]
        found |= scan.markers
        seam = tail + scan.head[:_OVERLAP]
        found.update(m for m in (FLAKY_MARKER, BROKEN_MARKER) if m in seam)
        # A part no longer than the overlap is all head: the seam then runs on through it.
        tail = (tail + scan.head)[-_OVERLAP:] if part.size <= _OVERLAP else scan.tail
    type_ok = matches(content_type, bytes(head))
    outcome: Outcome = (
        "broken" if BROKEN_MARKER in found else "flaky" if FLAKY_MARKER in found else "ok"
    )
    return Inspection(type_ok, outcome)


def _invalid_path() -> ApiError:
    return ApiError(403, "Invalid blob path")


async def build_assets(
    ctx: AppContext, workspace_id: str, requested: list[tuple[str, str | None]]
) -> list[AssetRecord]:
    state, store = ctx.state, ctx.store
    inspections: dict[str, Inspection] = {}
    for blob_path, _ in requested:
        issued = state.issued.get(blob_path)
        blob = store.get(blob_path)
        if issued and blob and blob.committed is not None and blob_path not in inspections:
            inspections[blob_path] = await anyio.to_thread.run_sync(
                inspect, list(blob.committed), issued.content_type
            )
    assets: list[AssetRecord] = []
    seen: set[str] = set()
    groups = dict(state.version_groups)
    for blob_path, previous_id in requested:
        issued = state.issued.get(blob_path)
        blob = store.get(blob_path)
        if (
            issued is None
            or issued.workspace_id != workspace_id
            or blob is None
            or blob.committed is None
            or blob.sha256 is None
            or blob_path not in inspections
        ):
            raise _invalid_path()
        if blob_path in state.submitted_blob_paths or blob_path in seen:
            raise ApiError(409, "Asset already submitted", docs_url=ASSETS_DOCS_URL)
        seen.add(blob_path)
        group_id = _version_group(ctx, workspace_id, previous_id)
        _check_size(ctx, issued, blob.size)
        inspection = inspections[blob_path]
        if not inspection.type_matches:
            raise ApiError(
                415, f"File content does not match the declared content type {issued.content_type}"
            )
        number = groups.get(group_id, 0) + 1
        groups[group_id] = number
        assets.append(
            AssetRecord(
                asset_id=str(uuid.uuid4()),
                blob_path=blob_path,
                filename=issued.filename,
                mime_type=issued.content_type,
                size=blob.size,
                content_sha256=blob.sha256.hex(),
                version_group_id=group_id,
                version_number=number,
                outcome=inspection.outcome,
                issues=findings_for(blob.sha256),
            )
        )
    return assets


def _version_group(ctx: AppContext, workspace_id: str, previous_id: str | None) -> str:
    if previous_id is None:
        return str(uuid.uuid4())
    previous = ctx.state.submissions.get(previous_id)
    if previous is None or previous.workspace_id != workspace_id:
        raise ApiError(404, "Previous submission not found")
    # A multi-asset previous submission has no documented mapping; its first asset's group wins.
    return previous.assets[0].version_group_id


def _check_size(ctx: AppContext, issued: IssuedPath, size: int) -> None:
    category = ALLOWED_CONTENT_TYPES.get(issued.content_type)
    if category is None:
        raise ApiError(415, f"Content type {issued.content_type} is not allowed")
    cap = ctx.config.category_max_bytes.get(category)
    if cap is not None and size > cap:
        raise ApiError(413, f"File exceeds the {category} size limit of {cap} bytes")
