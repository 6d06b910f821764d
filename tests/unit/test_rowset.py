from __future__ import annotations

import random

from batcher.rows.rowset import FirstSeen, RowBitmap


def test_bitmap_answers_like_a_set() -> None:
    rng = random.Random(3)
    bitmap, reference = RowBitmap(), set()
    for _ in range(5_000):
        row = rng.randint(1, 20_000)
        assert bitmap.add(row) == (row not in reference)
        reference.add(row)
    assert len(bitmap) == len(reference)
    assert all((r in bitmap) == (r in reference) for r in range(0, 20_010))
    assert "1" not in bitmap and -1 not in bitmap


def test_first_seen_returns_the_first_row_of_each_key_through_growth() -> None:
    seen = FirstSeen(capacity=4)
    for row in range(1, 3_001):
        assert seen.first(f"/media/file-{row % 1_000}.mp4", row) == (row - 1) % 1_000 + 1
    assert len(seen) == 1_000


def test_first_seen_is_compact() -> None:
    seen = FirstSeen()
    for row in range(100_000):
        seen.first(f"/a/{row}", row)
    # Two 8-byte arrays at most half full: ~32 bytes a key, against ~200+ for a dict of Paths.
    assert len(seen._keys) * 16 <= 100_000 * 64
