"""Per-row bookkeeping that stays small at a million rows.

A Python ``set`` of row numbers costs ~70 bytes a row, a ``dict`` of ``Path`` keys several
hundred; at 1M rows that alone was 70+ MB (benchmarks/RESULTS.md, memory). These keep the
same answers in a bit per row and 16 bytes per file.
"""

from __future__ import annotations

import hashlib
from array import array


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


class FirstSeen:
    """Remembers, per key, the first row that had it: open addressing over two flat arrays
    of 64-bit fingerprints and row numbers (a fingerprint collision, 1 in 2^64 per pair,
    would only misreport a duplicate)."""

    def __init__(self, capacity: int = 1024) -> None:
        self._size = 0
        self._keys = array("Q", bytes(8 * capacity))
        self._rows = array("q", bytes(8 * capacity))

    @staticmethod
    def _fingerprint(key: str) -> int:
        digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest()
        return int.from_bytes(digest, "little") or 1  # 0 marks an empty slot

    def first(self, key: str, row: int) -> int:
        """The first row seen with ``key`` (``row`` itself if it is the first)."""
        if 2 * (self._size + 1) > len(self._keys):
            self._grow()
        fp = self._fingerprint(key)
        mask = len(self._keys) - 1
        slot = fp & mask
        while self._keys[slot]:
            if self._keys[slot] == fp:
                return self._rows[slot]
            slot = (slot + 1) & mask
        self._keys[slot] = fp
        self._rows[slot] = row
        self._size += 1
        return row

    def _grow(self) -> None:
        keys, rows = self._keys, self._rows
        capacity = 2 * len(keys)
        self._keys = array("Q", bytes(8 * capacity))
        self._rows = array("q", bytes(8 * capacity))
        mask = capacity - 1
        for fp, row in zip(keys, rows, strict=True):
            if fp:
                slot = fp & mask
                while self._keys[slot]:
                    slot = (slot + 1) & mask
                self._keys[slot] = fp
                self._rows[slot] = row

    def __len__(self) -> int:
        return self._size
