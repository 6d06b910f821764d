"""In-flight data sized to the link: one ``LinkController`` per run decides how many blob
requests (blocks, whole-blob puts) are in flight across all files, from the throughput it
measures, and how long each request may take.

Why: a fixed "4 blocks per file x 8 files" fills a 25 MB/s link with 16+ crawling blocks of
8 MiB; a kill or a dropped connection then throws away all of their partial bytes, and
each block creeps towards its timeout. Blocks in flight add throughput only until the link
is full; past that they only add what a failure loses.

How (a simple probe, in the spirit of TCP BBR's):

* start at ``start`` slots (1: one block per file in flight is what a kill may lose);
* every step (at least ``step_seconds`` and ``2 x limit`` acknowledged requests) compare
  the bytes acknowledged per second with the step before: after a step up, keep growing
  (by one, or by half when throughput jumped by over 60 %) while throughput grew by more
  than ``gain`` (20 %); if it did not, step back to where it was and hold there;
* while holding, probe every ``hold_steps`` steps: one step up, or one step down (kept
  when throughput stays within ``gain`` of what it was: fewer blocks, same speed);
* never below what ``risk_seconds`` (0.5 s) of the measured throughput fills: a fast link
  (loopback, a data centre) gets many blocks at once from the first measurement on, a
  25 MB/s link one 8 MiB block;
* never above ``ceiling`` (the fixed concurrency the run would use otherwise) or below 1;
  the memory budget still bounds the bytes held, independently of this.

Slots go to the oldest file first (then its lowest block), so files finish one after
another rather than all crawling together: a kill then finds few files half-sent.

Request timeouts follow the per-request rate actually seen: ``floor + bytes / (0.5 x
rate)``, capped, instead of a fixed allowance per MiB.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio

from batcher.clock import Clock
from batcher.logs import event

IDLE_RESET = 0.5
"""Seconds with nothing in flight after which the throughput step starts afresh."""


@dataclass(frozen=True)
class LinkPolicy:
    start: int = 1
    ceiling: int = 32
    step_seconds: float = 0.25
    gain: float = 0.20
    hold_steps: int = 8
    risk_seconds: float = 0.5
    """In flight may always be this many seconds of the measured throughput (at least one
    request): on a fast link that is many blocks at once, on a slow one a single block, and
    a kill or dropped connection never loses more than about this much transfer time."""
    timeout_floor: float = 30.0
    timeout_cap: float = 900.0
    rate_weight: float = 0.3
    """Weight of the newest request in the per-request rate (an EWMA)."""


@dataclass(order=True)
class _Waiter:
    priority: tuple[int, int]
    seq: int
    granted: anyio.Event = field(default_factory=anyio.Event, compare=False)
    gone: bool = field(default=False, compare=False)


class PrioritySlots:
    """A counting semaphore with an adjustable total that serves the lowest priority first."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self.peak = 0
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()

    async def acquire(self, priority: tuple[int, int]) -> None:
        if self.used < self.total and not self._waiters:
            self._take()
            await anyio.lowlevel.checkpoint()
            return
        waiter = _Waiter(priority, next(self._seq))
        heapq.heappush(self._waiters, waiter)
        try:
            await waiter.granted.wait()
        except BaseException:
            waiter.gone = True
            if waiter.granted.is_set():  # granted as we were cancelled: hand it on
                self.release()
            raise

    def release(self) -> None:
        self.used -= 1
        self._grant()

    def resize(self, total: int) -> None:
        self.total = total
        self._grant()

    def _take(self) -> None:
        self.used += 1
        self.peak = max(self.peak, self.used)

    def _grant(self) -> None:
        while self._waiters and self.used < self.total:
            waiter = heapq.heappop(self._waiters)
            if waiter.gone:
                continue
            self._take()
            waiter.granted.set()


class LinkController:
    def __init__(self, clock: Clock, policy: LinkPolicy | None = None) -> None:
        self._clock = clock
        self.policy = policy or LinkPolicy()
        p = self.policy
        self.slots = PrioritySlots(max(1, min(p.start, p.ceiling)))
        self._files = itertools.count()
        self._step_start = clock.now()
        self._step_bytes = 0
        self._step_acks = 0
        self._last_rate: float | None = None
        self._trend = 1
        """+1 after a step up, -1 after a step down, 0 while holding."""
        self._held = 0
        self._next_probe = 1
        self._before_step = self.slots.total
        """The limit before the last step up or down (where a useless step returns to)."""
        self._per_request_rate: float | None = None
        self._idle_since: float | None = None
        self._request_bytes: float | None = None
        self._floor = 1
        self.history: list[tuple[float, int, float]] = []
        """(time, limit, bytes/s) at each step: for tests and the benchmark."""

    @property
    def limit(self) -> int:
        return self.slots.total

    def new_file(self) -> int:
        """A number for a file starting now: earlier files get their slots first."""
        return next(self._files)

    @asynccontextmanager
    async def slot(self, file_number: int, index: int) -> AsyncIterator[None]:
        now = self._clock.now()
        if self._idle_since is not None and now - self._idle_since > IDLE_RESET:
            # The link was idle (between files, or waiting for the API): a step spanning
            # that pause would measure the pause, not the link.
            self._step_start, self._step_bytes, self._step_acks = now, 0, 0
        await self.slots.acquire((file_number, index))
        self._idle_since = None
        try:
            yield
        finally:
            self.slots.release()
            if self.slots.used == 0:
                self._idle_since = self._clock.now()

    def timeout(self, nbytes: int, fallback: float) -> float:
        """The time limit for a request of ``nbytes`` body: from the rate seen so far (or
        ``fallback`` before any), never below the floor nor above the cap."""
        p = self.policy
        if self._per_request_rate is None:
            return fallback
        allowed = p.timeout_floor + nbytes / (0.5 * self._per_request_rate)
        return min(p.timeout_cap, max(p.timeout_floor, allowed))

    def acknowledged(self, nbytes: int, seconds: float) -> None:
        """A request of ``nbytes`` body finished after ``seconds``."""
        p = self.policy
        if nbytes > 0 and seconds > 0:
            rate = nbytes / seconds
            old = self._per_request_rate
            self._per_request_rate = rate if old is None else old + p.rate_weight * (rate - old)
        size = self._request_bytes
        self._request_bytes = nbytes if size is None else size + p.rate_weight * (nbytes - size)
        self._step_bytes += nbytes
        self._step_acks += 1
        now = self._clock.now()
        span = now - self._step_start
        if span < p.step_seconds or self._step_acks < 2 * self.limit:
            return
        self._step(self._step_bytes / span, now)
        self._step_start, self._step_bytes, self._step_acks = now, 0, 0

    def _step(self, rate: float, now: float) -> None:
        p = self.policy
        self.history.append((now, self.limit, rate))
        if self._request_bytes:
            self._floor = max(1, int(rate * p.risk_seconds / self._request_bytes))
        last, self._last_rate = self._last_rate, rate
        if last is None:
            self._resize(self.limit + 1, +1)  # first measurement: probe upwards
            return
        if self._trend > 0:
            if rate > last * (1 + p.gain) and self.limit < p.ceiling:
                # Big gains (a fast link far from full) grow by half at a time, so loopback
                # reaches its ceiling within a few steps; small ones by one.
                more = max(1, self.limit // 2) if rate > last * (1 + 3 * p.gain) else 1
                self._resize(self.limit + more, +1)
            elif rate <= last * (1 + p.gain):
                self._resize(self._before_step, 0)  # more in flight added nothing
                self._last_rate = last
            else:
                self._trend = 0
            return
        if self._trend < 0:
            if rate < last * (1 - p.gain):
                self._resize(self._before_step, 0)  # fewer was slower: back up, hold
                self._last_rate = last
            else:
                self._trend = 0
            return
        if self.limit < min(self._floor, p.ceiling):
            self._resize(self._floor, +1)  # the link is faster than what is in flight
            return
        self._held += 1
        if self._held < p.hold_steps:
            return
        self._held = 0
        self._next_probe = -self._next_probe
        if self._next_probe > 0 and self.limit < p.ceiling:
            self._resize(self.limit + 1, +1)
        elif self._next_probe < 0 and self.limit > 1:
            self._resize(self.limit - 1, -1)

    def _resize(self, limit: int, trend: int) -> None:
        limit = max(1, self._floor, min(self.policy.ceiling, limit))
        limit = min(self.policy.ceiling, limit)
        if trend != 0:
            self._before_step = self.limit
        self._trend = trend
        if limit != self.limit:
            self.slots.resize(limit)
            event(logging.DEBUG, "blob concurrency", limit=limit, rate=self._last_rate)
