"""The journal's ``StagedBlockStore``: blocks of large files staged but not yet committed,
deleted once the blob is committed (so the table holds only files in flight)."""

from __future__ import annotations

from batcher.state.store import JournalStore


class JournalBlockStore:
    def __init__(self, store: JournalStore) -> None:
        self._store = store

    def staged(self, key: str) -> set[str]:
        cur = self._store.db.execute("SELECT block_id FROM blocks WHERE key = ?", (key,))
        return {str(r[0]) for r in cur}

    def record(self, key: str, block_id: str, size: int) -> None:
        self._store.commit()
        self._store.db.execute(
            "INSERT OR REPLACE INTO blocks (key, block_id, size) VALUES (?, ?, ?)",
            (key, block_id, size),
        )

    def forget(self, key: str) -> None:
        self._store.commit()
        self._store.db.execute("DELETE FROM blocks WHERE key = ?", (key,))
