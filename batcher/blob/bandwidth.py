"""``--bwlimit``: a cap on the bytes per second batcher puts on the wire, for runs that must
not saturate a shared link. A token bucket on the clock (the GCRA form: each request of n
bytes reserves n / rate seconds of the link), shared by every body the run sends: blob
bodies draw from it slice by slice as they are written (``transport.BlockPayload``), direct
uploads draw their size before they are sent."""

from __future__ import annotations

from batcher.clock import Clock

BURST_SECONDS = 0.25
"""Bytes worth this long may go at once after an idle spell (smooths small bodies)."""


class Bandwidth:
    def __init__(self, bytes_per_second: float, clock: Clock) -> None:
        if bytes_per_second <= 0:
            raise ValueError("bandwidth must be positive")
        self.rate = bytes_per_second
        self._clock = clock
        self._free_at = clock.now()
        """When the link, at ``rate``, is done with every byte reserved so far."""
        self.waited = 0.0

    async def take(self, nbytes: int) -> None:
        """Wait until ``nbytes`` more may be sent without exceeding the rate on average."""
        now = self._clock.now()
        start = max(self._free_at, now - BURST_SECONDS)
        self._free_at = start + nbytes / self.rate
        wait = self._free_at - now - BURST_SECONDS
        if wait > 0:
            self.waited += wait
            await self._clock.sleep(wait)


def mb_per_second(text: str | float | None) -> float | None:
    """``--bwlimit`` in MB/s (decimal, as link speeds are quoted) -> bytes/s; 0 or None: off."""
    if text is None or text == "":
        return None
    value = float(text)
    if value < 0:
        raise ValueError("--bwlimit must be >= 0 MB/s")
    return value * 1_000_000 or None
