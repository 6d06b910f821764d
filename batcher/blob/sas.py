"""SAS grants: the URL the API hands out for one blob, when it expires, and how to refresh it.

A SAS URL carries its credential in ``sig``; nothing here ever prints it unredacted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote

import anyio
import yarl

from batcher.errors import BatcherError
from batcher.redact import redact_url


@dataclass(frozen=True)
class SasGrant:
    url: str = field(repr=False)
    expires_at: float
    """Epoch seconds (wall clock), as the service's ``expiresAt`` says."""

    def __repr__(self) -> str:
        return f"SasGrant(url={redact_url(self.url)!r}, expires_at={self.expires_at!r})"

    __str__ = __repr__


class SasSource(Protocol):
    """Where an upload gets its SAS URL. ``refresh=True`` asks the service for a fresh URL for
    the same blob (the old one expired or is about to)."""

    async def __call__(self, *, refresh: bool) -> SasGrant: ...


def with_params(url: str, **params: str | int) -> yarl.URL:
    """Append query parameters to a SAS URL, keeping the token byte-exact.

    yarl would otherwise decode and re-quote the existing query, and a signature is only
    valid for the exact bytes it was issued with (docs/blob.md)."""
    if not params:
        return yarl.URL(url, encoded=True)
    extra = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())
    joiner = "&" if "?" in url else "?"
    return yarl.URL(url + joiner + extra, encoded=True)


def should_refresh(grant: SasGrant, *, obtained_at: float, now: float, margin: float) -> bool:
    """Refresh ahead of expiry, but never sooner than half the grant's lifetime.

    The half-lifetime cap stops a refresh storm when the service hands out grants shorter
    than ``margin`` (each fresh grant would otherwise look due at once). A grant that arrives
    already expired is not refreshed here: the service's 403 decides, and that path is capped.
    """
    lifetime = grant.expires_at - obtained_at
    if lifetime <= 0:
        return False
    lead = min(margin, lifetime / 2)
    return now >= grant.expires_at - lead


class SasKeeper:
    """The current grant of ONE file, shared by its concurrent block requests.

    Refreshes are coalesced: when several blocks see the same grant expire, only the first
    asks the service; the others find the newer generation and reuse it."""

    def __init__(self, source: SasSource, *, margin: float, wall: Callable[[], float]) -> None:
        self._source = source
        self._margin = margin
        self._wall = wall
        self._lock = anyio.Lock()
        self._grant: SasGrant | None = None
        self._obtained_at = 0.0
        self._generation = 0
        self._failed: BatcherError | None = None
        self.refreshes = 0

    async def current(self) -> tuple[SasGrant, int]:
        """The grant to use now and its generation (pass it back to ``expired``)."""
        async with self._lock:
            if self._failed is not None:
                # The source already spent its own retries: the file's other blocks must
                # not each start another round of them.
                raise self._failed
            if self._grant is None:
                await self._fetch(refresh=False)
            elif should_refresh(
                self._grant, obtained_at=self._obtained_at, now=self._wall(), margin=self._margin
            ):
                await self._fetch(refresh=True)
            assert self._grant is not None
            return self._grant, self._generation

    async def expired(self, generation: int) -> None:
        """The service refused generation ``generation`` as expired: get a fresh one once."""
        async with self._lock:
            if generation == self._generation:
                await self._fetch(refresh=True)

    async def _fetch(self, *, refresh: bool) -> None:
        try:
            self._grant = await self._source(refresh=refresh)
        except BatcherError as exc:
            self._failed = exc
            raise
        self._obtained_at = self._wall()
        self._generation += 1
        if refresh:
            self.refreshes += 1
