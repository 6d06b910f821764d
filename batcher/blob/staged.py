"""Which blocks of a file are already on the service: the journal behind block-level resume.

Keys are the caller's stable file identity (blob path + size + mtime, say), so a changed file
never matches the blocks of its former self. Block ids are derived from the same key
(``blocks.block_id``), so a store only has to remember ids, not offsets.
"""

from __future__ import annotations

from typing import Protocol


class StagedBlockStore(Protocol):
    def staged(self, key: str) -> set[str]:
        """Block ids recorded as staged (uploaded but not yet committed) for ``key``."""
        ...

    def record(self, key: str, block_id: str, size: int) -> None:
        """Block ``block_id`` of ``size`` bytes was accepted by the service."""
        ...

    def forget(self, key: str) -> None:
        """The blob was committed (or its blocks are void): drop everything about ``key``."""
        ...


class InMemoryStagedBlockStore:
    """Resume within one process (e.g. after a cancelled or failed attempt of a row).

    Persisting it across runs is a matter of writing ``record`` calls to a journal."""

    def __init__(self) -> None:
        self._blocks: dict[str, dict[str, int]] = {}

    def staged(self, key: str) -> set[str]:
        return set(self._blocks.get(key, {}))

    def record(self, key: str, block_id: str, size: int) -> None:
        self._blocks.setdefault(key, {})[block_id] = size

    def forget(self, key: str) -> None:
        self._blocks.pop(key, None)
