from __future__ import annotations

import random

from batcher.rows.rowset import RowBitmap


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
