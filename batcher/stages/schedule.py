"""The pollers' schedule: tickets ordered by due time, and wakeups that make one due now.

A webhook event names one asset. ``wake`` records it as a hint on its submission's ticket
and moves the ticket to the front: waiting in the heap, it gets a new entry due now (the old
one is skipped when it surfaces); being polled, it is put back due now when that round ends.
Events for submissions the schedule does not hold yet (an event can beat E4's answer, or the
ticket may still be on its way from the submit stage) wait a little in a small buffer;
events for submissions that never arrive (another client's work in the same workspace) age
out of it.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict

import anyio

from batcher.clock import Clock
from batcher.outcome import Ticket
from batcher.webhooks.events import Wakeup

EARLY_KEEP = 120.0
"""Seconds a wakeup for an unknown submission is kept in case its ticket arrives."""
EARLY_MAX = 512
"""Submissions with such wakeups kept at most (oldest dropped first)."""


class PollSchedule:
    """Tickets ordered by due time. ``get`` returns None once input is closed and all done."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Ticket]] = []
        self._seq = itertools.count()
        self._live: dict[str, int] = {}
        """submission → seq of its one valid heap entry (others are stale, skipped)."""
        self._tickets: dict[str, Ticket] = {}
        """Every ticket not yet finished, queued or in flight."""
        self._in_flight: set[str] = set()
        self._hints: dict[str, dict[str, Wakeup]] = {}
        self._heard: dict[str, set[str]] = {}
        """submission → assets any wakeup has named (their end is known to have happened)."""
        self._early: OrderedDict[str, tuple[float, dict[str, Wakeup]]] = OrderedDict()
        self._closed = False
        self._stopped = False
        self._changed = anyio.Condition()

    def _push(self, ticket: Ticket, due: float) -> None:
        seq = next(self._seq)
        self._live[ticket.submission_id] = seq
        heapq.heappush(self._heap, (due, seq, ticket))

    def _drop_stale_head(self) -> None:
        while self._heap and self._live.get(self._heap[0][2].submission_id) != self._heap[0][1]:
            heapq.heappop(self._heap)

    async def put(self, ticket: Ticket, due: float) -> None:
        async with self._changed:
            sid = ticket.submission_id
            self._tickets[sid] = ticket
            early = self._early.pop(sid, None)
            if early is not None:
                self._hints.setdefault(sid, {}).update(early[1])
                self._heard.setdefault(sid, set()).update(early[1])
                due = self._clock.now()
            self._push(ticket, due)
            self._changed.notify_all()

    async def wake(self, wakeup: Wakeup) -> bool:
        """Make ``wakeup``'s submission due now with a hint for its asset. False when the
        submission is not (yet) ours or the asset is already reported: nothing to do now."""
        async with self._changed:
            if self._stopped:
                return False
            sid = wakeup.submission_id
            ticket = self._tickets.get(sid)
            if ticket is None:
                self._keep_early(wakeup)
                return False
            if wakeup.asset_id not in ticket.jobs or wakeup.asset_id in ticket.done:
                return False
            self._hints.setdefault(sid, {})[wakeup.asset_id] = wakeup
            self._heard.setdefault(sid, set()).add(wakeup.asset_id)
            if sid not in self._in_flight:
                self._push(ticket, self._clock.now())
            self._changed.notify_all()
            return True

    def _keep_early(self, wakeup: Wakeup) -> None:
        now = self._clock.now()
        while self._early:
            oldest = next(iter(self._early.values()))
            if now - oldest[0] <= EARLY_KEEP and len(self._early) < EARLY_MAX:
                break
            self._early.popitem(last=False)
        _, hints = self._early.setdefault(wakeup.submission_id, (now, {}))
        hints[wakeup.asset_id] = wakeup

    def take_hints(self, submission_id: str) -> dict[str, Wakeup]:
        """The wakeups gathered for this ticket since its last round (the caller polls it)."""
        return self._hints.pop(submission_id, {})

    def heard(self, submission_id: str) -> frozenset[str]:
        """The assets of this ticket some event has named so far."""
        return frozenset(self._heard.get(submission_id, ()))

    async def stop(self) -> None:
        """Shutdown: hand out nothing more (the journal keeps every submission to poll)."""
        async with self._changed:
            self._heap.clear()
            self._live.clear()
            self._hints.clear()
            self._heard.clear()
            self._closed = self._stopped = True
            self._changed.notify_all()

    async def close(self) -> None:
        async with self._changed:
            self._closed = True
            self._changed.notify_all()

    async def get(self) -> Ticket | None:
        async with self._changed:
            while True:
                self._drop_stale_head()
                now = self._clock.now()
                if self._heap and self._heap[0][0] <= now:
                    ticket = heapq.heappop(self._heap)[2]
                    del self._live[ticket.submission_id]
                    self._in_flight.add(ticket.submission_id)
                    return ticket
                if self._closed and not self._heap and not self._in_flight:
                    return None
                if not self._heap:
                    await self._changed.wait()
                    continue
                async with self._clock.move_on_after(self._heap[0][0] - now):
                    await self._changed.wait()

    async def finished(self, ticket: Ticket, next_due: float | None) -> None:
        async with self._changed:
            sid = ticket.submission_id
            self._in_flight.discard(sid)
            if next_due is None:
                self._tickets.pop(sid, None)
                self._hints.pop(sid, None)
                self._heard.pop(sid, None)
            elif not self._stopped:
                if self._hints.get(sid):
                    next_due = self._clock.now()  # woken while it was being polled
                self._push(ticket, next_due)
            self._changed.notify_all()
