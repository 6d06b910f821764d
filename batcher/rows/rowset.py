"""Per-row bookkeeping that stays small at a million rows.

A Python ``set`` of row numbers costs ~70 bytes a row; at 1M rows that alone was 70+ MB
(benchmarks/RESULTS.md, memory). ``RowBitmap`` keeps the same answers in a bit per row.
What is keyed by text (the identities met) is on disk instead: ``state/seen.py``.
"""

from __future__ import annotations


class RowBitmap:
    """Which 1-based row numbers are set: one bit each, grown as needed."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self._count = 0

    def add(self, row: int) -> bool:
        """Set ``row``; False if it was set already."""
        byte, bit = divmod(row, 8)
        if byte >= len(self._bits):
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits))))
        mask = 1 << bit
        if self._bits[byte] & mask:
            return False
        self._bits[byte] |= mask
        self._count += 1
        return True

    def __contains__(self, row: object) -> bool:
        if not isinstance(row, int) or row < 0:
            return False
        byte, bit = divmod(row, 8)
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << bit))

    def __len__(self) -> int:
        return self._count
