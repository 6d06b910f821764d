"""One bucket's pacing state: a rate learned from 429s, a token bucket of burst 1 that
every request of the bucket takes from, and the ``Retry-After`` window.

The service publishes no limits and sends no ``X-RateLimit-*`` headers, so the only signal is
the 429 itself. The rule, in the spirit of TCP's AIMD with a remembered edge:

* Until the first 429 the bucket is not paced at all (no limit binds: no slowdown).
* A 429 shuts the bucket until ``Retry-After`` has passed and lowers the rate: to
  ``target`` x the rate that was refused (or, if unpaced, x the rate actually accepted
  over the last second); a 429 at a rate that had held is met with ``decrease`` instead.
  Answers to requests already in flight when the bucket shut do not lower it again.
* While demand exceeds the rate, the rate is raised by a probe step every ``probe_gap``
  seconds without a 429; steps double while they succeed (so a limit raised mid-run is
  found in a few steps). A probe that meets a 429 falls back to the last rate that held
  and doubles the wait before the next probe, so 429s become rare once settled.
* A reopened bucket lets requests out one by one at the rate, never all at once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PacingPolicy:
    target: float = 0.9
    """Settle at this share of a rate the service refused."""
    decrease: float = 0.6
    """Share kept when a rate that had held is refused (the limit itself went down)."""
    probe_step: float = 0.05
    """First upward step after a settle; doubles while steps succeed (up to 100 %)."""
    first_probe_gap: float = 2.0
    """Seconds between probes while the rate is still only an estimate (no paced 429 yet)."""
    probe_gap: float = 10.0
    max_probe_gap: float = 300.0
    min_rate: float = 0.2
    estimate_window: float = 1.0
    """The unpaced phase's accepted rate is measured over this many seconds."""


@dataclass(frozen=True)
class BucketStats:
    requests: int
    throttles: int
    rate: float | None
    """The learned rate in requests/s (None: never throttled, not paced)."""
    cap: float | None
    closed_until: float
    """Clock time (monotonic) until which the bucket is shut; 0 when open."""


@dataclass
class BucketPacer:
    policy: PacingPolicy = field(default_factory=PacingPolicy)
    cap: float | None = None
    """The user's ceiling (``--max-rate``), requests/s."""
    rate: float | None = None
    closed_until: float = 0.0
    next_slot: float = 0.0
    requests: int = 0
    throttles: int = 0
    _good: float | None = None
    _step: float = 0.0
    _gap: float = 0.0
    _last_probe: float = 0.0
    _probing: bool = False
    _estimated: bool = False
    _accepted: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._step = self.policy.probe_step
        self._gap = self.policy.first_probe_gap

    def pace(self) -> float | None:
        """Requests/s requests may go out at now (None: as fast as they come)."""
        if self.rate is None:
            return self.cap
        return self.rate if self.cap is None else min(self.rate, self.cap)

    def slot(self, now: float) -> float:
        """When the next request may go: ``now`` if it may go at once."""
        if now < self.closed_until:
            return self.closed_until
        pace = self.pace()
        if pace is None:
            return now
        return max(now, self.next_slot)

    def take(self, now: float) -> None:
        """A request goes out now (``slot(now) <= now``)."""
        pace = self.pace()
        if pace is not None:
            self.next_slot = max(self.next_slot, now) + 1.0 / pace
        self.requests += 1

    def saturated(self, now: float) -> None:
        """A request had to wait for its slot: demand exceeds the pace. Probe upward when
        the rate has held long enough."""
        if self.rate is None or now - self._last_probe < self._gap:
            return
        if self.cap is not None and self.rate >= self.cap:
            return  # the user's ceiling binds, not the service's
        self._good = self.rate
        self.rate *= 1.0 + self._step
        self._step = min(1.0, self._step * 2)
        self._last_probe = now
        self._probing = True

    def accepted(self, now: float) -> None:
        if self.rate is None:  # only the unpaced phase needs the estimate
            self._accepted.append(now)
            while self._accepted and self._accepted[0] < now - self.policy.estimate_window:
                self._accepted.popleft()

    def throttled(self, now: float, retry_after: float) -> bool:
        """A 429. Returns True when it lowered the rate (False: an answer to a request
        already in flight when the bucket shut)."""
        self.throttles += 1
        fresh = now >= self.closed_until
        self.closed_until = max(self.closed_until, now + retry_after)
        # Reopen one by one: the first request at the reopening, then one per 1/rate.
        self.next_slot = max(self.next_slot, self.closed_until)
        if not fresh:
            return False
        p = self.policy
        if self.rate is None:
            window = p.estimate_window
            recent = sum(1 for t in self._accepted if t >= now - window)
            self.rate = max(p.min_rate, p.target * max(1, recent) / window)
            self._estimated = True
            self._gap = p.first_probe_gap
        elif self._probing:
            # The probe found the edge: back to the last rate that held (at most target x
            # the refused one), and wait longer before the next probe.
            failed = self.rate * p.target
            self.rate = max(p.min_rate, failed if self._good is None else min(self._good, failed))
            self._gap = p.probe_gap if self._estimated else min(p.max_probe_gap, self._gap * 2)
            self._estimated = False
        else:
            self.rate = max(p.min_rate, self.rate * p.decrease)
            self._good = None
            self._gap = p.probe_gap
            self._estimated = False
        self._accepted.clear()
        self._step = p.probe_step
        self._probing = False
        self._last_probe = self.closed_until
        return True

    def stats(self) -> BucketStats:
        return BucketStats(self.requests, self.throttles, self.rate, self.cap, self.closed_until)
