"""Time as a dependency: every read of the time and every wait in batcher goes through a
``Clock``, so retry, rate-limit, polling, linger and shutdown logic can be tested without
sleeping.

* ``RealClock``: ``time.monotonic`` / ``anyio.sleep``.
* ``FakeClock``: virtual time. With ``autojump()`` running (trio's
  ``MockClock(autojump_threshold=0)``), time jumps to the next sleeper's deadline whenever
  every task is blocked, so a test of a 30 s ``Retry-After`` or a 1 h poll deadline runs in
  milliseconds and concurrent sleepers wake in deadline order. Without it, ``sleep`` simply
  advances time by its own amount (enough for sequential code such as one retry loop).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

import anyio
import anyio.lowlevel

# The fake clock's wall time starts here (2026-06-03T12:00:00Z, the API docs' example day),
# so SAS expiry and ISO timestamps derived from it look real.
FAKE_WALL_EPOCH = 1_780_488_000.0


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch (for expiry times the service states in wall time)."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def move_on_after(self, seconds: float) -> TimeoutScope:
        """``async with clock.move_on_after(s) as scope:``: cancel the body after ``s`` seconds
        of this clock (``scope.cancelled_caught`` tells whether it fired)."""
        ...


class TimeoutScope:
    """An async context manager cancelling its body after ``seconds`` of a clock."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self._clock = clock
        self._seconds = seconds
        self._tg: anyio.abc.TaskGroup | None = None
        self.scope = anyio.CancelScope()

    @property
    def cancelled_caught(self) -> bool:
        return self.scope.cancelled_caught

    async def __aenter__(self) -> TimeoutScope:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._alarm)
        self.scope.__enter__()
        return self

    async def _alarm(self) -> None:
        await self._clock.sleep(self._seconds)
        self.scope.cancel()

    async def __aexit__(self, *exc: object) -> bool:
        assert self._tg is not None
        suppressed = self.scope.__exit__(*exc)  # type: ignore[arg-type]
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(None, None, None)
        return bool(suppressed)


class _RealTimeout(TimeoutScope):
    """Real time needs no alarm task: anyio's own deadline scope does it (this runs for
    every row a partial batch waits on, so a task per wait would cost per row)."""

    def __init__(self, seconds: float) -> None:
        self.scope = anyio.move_on_after(seconds)

    async def __aenter__(self) -> _RealTimeout:
        self.scope.__enter__()
        return self

    async def __aexit__(self, *exc: object) -> bool:
        return bool(self.scope.__exit__(*exc))  # type: ignore[arg-type]


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds))

    def move_on_after(self, seconds: float) -> TimeoutScope:
        return _RealTimeout(seconds)


@dataclass(order=True)
class _Sleeper:
    deadline: float
    seq: int
    woken: anyio.Event = field(default_factory=anyio.Event, compare=False)
    gone: bool = field(default=False, compare=False)


class FakeClock:
    """Virtual time; see the module docstring for the two modes."""

    def __init__(self, start: float = 1000.0, *, wall_epoch: float = FAKE_WALL_EPOCH) -> None:
        self._now = start
        self._wall_offset = wall_epoch - start
        self.sleeps: list[float] = []
        self._waiters: list[_Sleeper] = []
        self._seq = itertools.count()
        self._autojumping = False

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    def advance(self, seconds: float) -> None:
        """Move time forward by hand, waking every sleeper whose deadline has come."""
        self._now += max(0.0, seconds)
        self._wake_due()

    def move_on_after(self, seconds: float) -> TimeoutScope:
        return TimeoutScope(self, seconds)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if not self._autojumping:
            self._now += max(0.0, seconds)
            await anyio.lowlevel.checkpoint()
            return
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        sleeper = _Sleeper(self._now + seconds, next(self._seq))
        heapq.heappush(self._waiters, sleeper)
        try:
            await sleeper.woken.wait()
        finally:
            sleeper.gone = True  # cancelled sleepers must not pull time forward

    def _wake_due(self) -> None:
        while self._waiters and self._waiters[0].deadline <= self._now:
            heapq.heappop(self._waiters).woken.set()

    def _drop_gone(self) -> None:
        while self._waiters and self._waiters[0].gone:
            heapq.heappop(self._waiters)

    @property
    def next_deadline(self) -> float | None:
        live = [w.deadline for w in self._waiters if not w.gone]
        return min(live) if live else None

    @asynccontextmanager
    async def autojump(self) -> AsyncIterator[FakeClock]:
        """Run the jumper for the body: ``async with clock.autojump(): await run_batch(...)``."""
        self._autojumping = True
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._jumper)
                try:
                    yield self
                finally:
                    tg.cancel_scope.cancel()
        finally:
            self._autojumping = False
            # Whatever still sleeps (a cancelled body) must not hang: release it.
            for sleeper in self._waiters:
                sleeper.woken.set()
            self._waiters.clear()

    async def _jumper(self) -> None:
        while True:
            await _wait_all_tasks_blocked()
            self._drop_gone()
            if self._waiters:
                deadline = self._waiters[0].deadline
                if deadline > self._now:
                    self._now = deadline
                self._wake_due()
                await anyio.lowlevel.checkpoint()
            else:
                # Everything waits on something other than time (I/O, a thread): yield for
                # a moment of real time rather than spin.
                await anyio.sleep(0.001)


async def _wait_all_tasks_blocked() -> None:
    """Return once every other task waits on something. anyio's version polls every 0.1 s of
    real time while any task is runnable, which would make each jump cost that much; on
    asyncio a task is blocked when it awaits a future that is not done, so yielding until that
    holds for all is enough."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # another backend: its own primitive
        await anyio.wait_all_tasks_blocked()
        return
    this = asyncio.current_task()
    while True:
        await asyncio.sleep(0)
        runnable = False
        for task in asyncio.all_tasks():
            if task is this:
                continue
            waiter = getattr(task, "_fut_waiter", None)
            if waiter is None or waiter.done():
                runnable = True
                break
        if not runnable:
            return
