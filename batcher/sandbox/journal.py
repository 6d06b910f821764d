"""The sandbox's own durable memory (``state_dir``): an append-only JSON-lines journal.

Every mutating request appends its record(s) in the order it changed memory, then awaits
``sync`` before its response is sent: the journal is fsync'd (group commit: one fsync covers
every record appended by then, so concurrent requests share it). A SIGKILL at any moment
therefore loses only changes no client was told about. A torn last line is such a change and
is skipped on replay (``persist.py``). Without a ``state_dir`` the journal does nothing.

Records never hold an API key; webhook secrets are stored (the service must keep them to
sign), so the journal file is created owner-only.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.to_thread

from batcher.sandbox.blobs import Part, StoredBlob
from batcher.sandbox.state import Attempt, IssuedPath, SubmissionRecord, Subscription

JOURNAL_NAME = "journal.jsonl"


def part_record(part: Part) -> dict[str, Any]:
    return {"file": part.path.name, "size": part.size, "block_id": part.block_id}


def _open_append(path: Path) -> IO[bytes]:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return os.fdopen(fd, "ab")


class Journal:
    def __init__(self, fh: IO[bytes] | None = None, blob_dir: Path | None = None) -> None:
        self._fh = fh
        self._blob_dir = blob_dir
        self._pending: list[bytes] = []
        self._appended = 0
        self._durable = 0
        self._lock = anyio.Lock()

    @classmethod
    async def open(cls, state_dir: Path, blob_dir: Path) -> Journal:
        fh = await anyio.to_thread.run_sync(_open_append, state_dir / JOURNAL_NAME)
        return cls(fh, blob_dir)

    @property
    def enabled(self) -> bool:
        return self._fh is not None

    def append(self, record: dict[str, Any]) -> None:
        """Queue a record (synchronously, so records keep the order memory changed in)."""
        if self._fh is None:
            return
        self._pending.append(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        self._appended += 1

    async def sync(self) -> None:
        """Return once every record appended so far is on disk."""
        if self._fh is None:
            return
        target = self._appended
        async with self._lock:
            if self._durable >= target:
                return  # another request's fsync already covered ours
            lines, upto = self._pending, self._appended
            self._pending = []
            await anyio.to_thread.run_sync(self._write, lines)
            self._durable = upto

    def _write(self, lines: list[bytes]) -> None:
        assert self._fh is not None
        self._fh.write(b"".join(lines))
        self._fh.flush()
        os.fsync(self._fh.fileno())
        if self._blob_dir is not None:
            # New part files' directory entries must be durable before records naming them.
            fd = os.open(self._blob_dir, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    async def close(self) -> None:
        if self._fh is not None:
            await self.sync()
            fh, self._fh = self._fh, None
            await anyio.to_thread.run_sync(fh.close)

    # --- one helper per mutation ----------------------------------------------------------
    async def issued(self, issued: IssuedPath) -> None:
        self.append({"op": "issued", **asdict(issued)})
        await self.sync()

    async def blob(self, blob_path: str, blob: StoredBlob) -> None:
        self.append(
            {
                "op": "blob",
                "path": blob_path,
                "parts": [part_record(p) for p in blob.committed or []],
                "md5": blob.md5.hex() if blob.md5 is not None else None,
                "sha256": blob.sha256.hex() if blob.sha256 is not None else None,
                "etag": blob.etag,
                "last_modified": blob.last_modified,
                "content_type": blob.content_type,
            }
        )
        await self.sync()

    async def block(self, blob_path: str, part: Part) -> None:
        self.append({"op": "block", "path": blob_path, **part_record(part)})
        await self.sync()

    async def submission(self, record: SubmissionRecord) -> None:
        self.append({"op": "submission", **asdict(record)})
        await self.sync()

    async def retry(self, submission_id: str, asset_id: str, attempt: Attempt) -> None:
        self.append(
            {"op": "retry", "submission_id": submission_id, "asset_id": asset_id, **asdict(attempt)}
        )
        await self.sync()

    async def subscription(self, sub: Subscription) -> None:
        self.append({"op": "subscription", **asdict(sub)})
        await self.sync()

    async def subscription_deleted(self, subscription_id: str) -> None:
        self.append({"op": "subscription_deleted", "id": subscription_id})
        await self.sync()

    def dispatched(self, asset_id: str, attempt_index: int) -> None:
        """An attempt's end became events; no sync: losing this only means a re-send (the
        delivery is at-least-once anyway), so it rides along with the next fsync."""
        self.append({"op": "dispatched", "asset_id": asset_id, "attempt": attempt_index})
