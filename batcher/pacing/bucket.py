"""One bucket's pacing state: a rate learned from 429s, a token bucket of burst 1 that
every request of the bucket takes from, and the ``Retry-After`` window.

The service publishes no limits and sends no ``X-RateLimit-*`` headers, so the only signal is
the 429 itself. The rule (AIMD with a remembered edge, searched by bisection):

* Until the first 429 the bucket is not paced at all (no limit binds: no slowdown). That
  429 sets the rate to ``target`` x the rate accepted over the last second.
* Every 429 shuts the bucket until ``Retry-After`` has passed (never a request early);
  answers to requests already in flight when it shut change nothing more.
* While demand exceeds the rate, every ``probe_gap`` seconds without a 429 the rate steps
  up: by a step that doubles while steps succeed, but never past half-way to (and
  ``target`` x) the lowest rate refused so far, ``bad``. A refused probe goes back to the
  last rate that held and remembers the refused one; so the rate settles just under the
  limit in a few steps, and 429s stop. Settled, ``bad`` is raised by a step now and then,
  so a limit raised mid-run is found again.
* A 429 at a rate that had held means the limit went down: multiplicative ``decrease``.
* A reopened bucket lets requests out one by one at the rate, never all at once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PacingPolicy:
    target: float = 0.95
    """Never step past this share of the lowest rate refused so far."""
    decrease: float = 0.6
    """Share kept when a rate that had held is refused (the limit itself went down)."""
    probe_step: float = 0.1
    """First upward step; doubles while steps succeed (up to 100 %)."""
    first_probe_gap: float = 2.0
    probe_gap: float = 5.0
    max_probe_gap: float = 60.0
    min_rate: float = 0.2
    recheck: float = 5.0
    """A 429 this soon after reopening, with no probe since, means far over the limit."""
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
    _bad: float | None = None
    _reopened: float = 0.0
    _step: float = 0.0
    _gap: float = 0.0
    _last_probe: float = 0.0
    _probing: bool = False
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
        """A request had to wait for its slot: demand exceeds the pace. Step up when the
        rate has held for ``probe_gap``."""
        if self.rate is None or now - self._last_probe < self._gap:
            return
        if self.cap is not None and self.rate >= self.cap:
            return  # the user's ceiling binds, not the service's
        p = self.policy
        self._last_probe = now
        if self._probing:  # the last step held: steps grow, probes come sooner
            self._step = min(1.0, self._step * 2)
            self._gap = p.first_probe_gap if self._bad is None else max(p.probe_gap, self._gap / 2)
        nxt = self.rate * (1.0 + self._step)
        if self._bad is not None:
            nxt = min(nxt, (self.rate + self._bad) / 2, self._bad * p.target)
        if nxt <= self.rate * 1.01:
            # Settled just under the edge. The limit may have been raised since: let the
            # edge age upward, and look again later.
            if self._bad is not None:
                self._bad *= 1.0 + p.probe_step
            self._probing = False
            return
        self._good = self.rate
        self.rate = nxt
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
            self._gap = p.first_probe_gap
        else:
            failed = self.rate
            # Refused again within moments of reopening, no probe since: far over the limit.
            soon = 0 < now - self._reopened < p.recheck
            below = self._bad is not None and failed < 0.9 * self._bad
            dropped = not self._probing and (soon or below)
            if dropped:  # refused well under an edge that used to hold: the limit went down
                self.rate = max(p.min_rate, failed * p.decrease)
                self._gap = p.probe_gap
            else:
                # At or past the edge (a burst allowance may have hidden it for a while):
                # back under the refused rate, and probe ever more rarely there; that is
                # what makes 429s stop.
                self.rate = max(p.min_rate, min(self._good or failed, failed * 0.9))
                self._gap = min(p.max_probe_gap, self._gap * 2)
            self._bad = failed if dropped or self._bad is None else min(self._bad, failed)
        self._accepted.clear()
        self._good = None
        self._step = p.probe_step
        self._probing = False
        self._last_probe = self._reopened = self.closed_until
        return True

    def stats(self) -> BucketStats:
        return BucketStats(self.requests, self.throttles, self.rate, self.cap, self.closed_until)
