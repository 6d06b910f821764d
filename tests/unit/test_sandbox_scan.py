"""The sandbox notes markers and the magic head while a body streams in; E4's inspection
from those notes must equal a full read of the committed parts, seams included."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from batcher.sandbox.blobs import BlobStore, Part
from batcher.sandbox.processing import BROKEN_MARKER, FLAKY_MARKER
from batcher.sandbox.submit import Inspection, inspect

PNG = b"\x89PNG\r\n\x1a\n"


async def _chunks(data: bytes, sizes: list[int]) -> AsyncIterator[bytes]:
    pos = 0
    for n in sizes:
        yield data[pos : pos + n]
        pos += n
    if pos < len(data):
        yield data[pos:]


def _store_parts(root: Path, pieces: list[bytes], rng: random.Random) -> list[Part]:
    store = BlobStore(root)

    async def go() -> list[Part]:
        parts = []
        for piece in pieces:
            sizes = [rng.randint(1, max(1, len(piece) // 3 + 1)) for _ in range(4)]
            got = await store.receive(_chunks(piece, sizes), lambda _n: None)
            assert got is not None
            parts.append(got.part)
        return parts

    return anyio.run(go)


def _full(parts: list[Part], content_type: str) -> Inspection:
    return inspect([Part(p.path, p.size, p.block_id) for p in parts], content_type)


@pytest.mark.parametrize("seed", range(40))
def test_scanned_inspection_equals_a_full_read(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    body = bytearray(PNG + rng.randbytes(rng.randint(0, 3_000_000)))
    for marker in rng.sample([FLAKY_MARKER, BROKEN_MARKER], rng.randint(0, 2)):
        at = rng.randint(0, len(body))
        body[at:at] = marker
    if rng.random() < 0.3:
        body = bytearray(rng.randbytes(64) + body)  # magic number not at the start
    cuts = sorted(rng.sample(range(1, len(body)), min(len(body) - 1, rng.randint(0, 6))))
    if rng.random() < 0.5:  # tiny parts next to a marker: the seam runs through them
        cuts += [c + d for c in cuts[:2] for d in (1, 3)]
        cuts = sorted({c for c in cuts if 0 < c < len(body)})
    pieces = [bytes(body[a:b]) for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    parts = _store_parts(tmp_path, pieces, rng)
    assert all(p.scan is not None for p in parts)
    for content_type in ("image/png", "video/mp4"):
        assert inspect(parts, content_type) == _full(parts, content_type)


def test_marker_split_across_two_parts_is_found(tmp_path: Path) -> None:
    rng = random.Random(1)
    left = PNG + rng.randbytes(10_000) + BROKEN_MARKER[:4]
    right = BROKEN_MARKER[4:] + rng.randbytes(10_000)
    parts = _store_parts(tmp_path, [left, right], rng)
    assert inspect(parts, "image/png").outcome == "broken"
    assert _full(parts, "image/png") == inspect(parts, "image/png")
