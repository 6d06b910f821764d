"""One shared pace for upload bodies, emulating the single network link a client uploads over.

Every body chunk the sandbox reads (blob PUTs, Put Block List, E2 file parts, drained faulted
bodies) reserves its transfer time on one timeline; a reader sleeps until its slot. While a
reader sleeps it reads nothing, so TCP flow control slows the sender: concurrent uploads share
the configured bytes per second between them, as they would on a real link. Pacing runs on
real (monotonic) time on purpose: the sandbox is the outside world, not code under test.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio

# A reader may run this far ahead of its slot without sleeping: sleeping for every small
# chunk would cost more than it paces.
_SLACK_SECONDS = 0.02


class Link:
    def __init__(
        self,
        bytes_per_second: float | None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self._rate = bytes_per_second
        self._monotonic = monotonic
        self._sleep = sleep
        self._free_at = 0.0  # when the link has sent everything reserved so far

    @property
    def bytes_per_second(self) -> float | None:
        return self._rate

    def set_rate(self, bytes_per_second: float | None) -> None:
        if bytes_per_second is not None and bytes_per_second <= 0:
            raise ValueError("bandwidth must be positive (or None for unpaced)")
        self._rate = bytes_per_second

    async def take(self, n: int) -> None:
        """Wait until ``n`` more bytes fit through the link."""
        rate = self._rate
        if rate is None or n <= 0:
            return
        now = self._monotonic()
        self._free_at = max(now, self._free_at) + n / rate
        delay = self._free_at - now - _SLACK_SECONDS
        if delay > 0:
            await self._sleep(delay)

    async def paced(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            await self.take(len(chunk))
            yield chunk

    async def read_all(self, chunks: AsyncIterator[bytes]) -> bytes:
        return b"".join([chunk async for chunk in self.paced(chunks)])
