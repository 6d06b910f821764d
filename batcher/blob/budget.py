"""One memory budget for the whole run: bytes buffered in flight, shared by every file and block.

A weighted semaphore. A request larger than the whole budget is clamped to it (it then runs
alone) so that a single huge block can never deadlock the run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio


class MemoryBudget:
    def __init__(self, limit_bytes: int) -> None:
        if limit_bytes <= 0:
            raise ValueError("memory budget must be positive")
        self._limit = limit_bytes
        self._used = 0
        self._peak = 0
        self._changed = anyio.Condition()

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def used(self) -> int:
        return self._used

    @property
    def peak(self) -> int:
        return self._peak

    async def acquire(self, nbytes: int) -> int:
        """Wait until ``nbytes`` fit; returns the amount actually held (clamped)."""
        want = min(max(nbytes, 0), self._limit)
        async with self._changed:
            while self._used + want > self._limit:
                await self._changed.wait()
            self._used += want
            self._peak = max(self._peak, self._used)
        return want

    async def release(self, held: int) -> None:
        async with self._changed:
            self._used -= held
            self._changed.notify_all()

    @asynccontextmanager
    async def hold(self, nbytes: int) -> AsyncIterator[int]:
        held = await self.acquire(nbytes)
        try:
            yield held
        finally:
            with anyio.CancelScope(shield=True):
                await self.release(held)
