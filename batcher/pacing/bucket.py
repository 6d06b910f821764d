"""One bucket's pacing state: a rate learned from 429s, a token bucket of burst 1 that
every request of the bucket takes from, and the ``Retry-After`` window.

The service publishes no limits, so the only signals are the 429 and the requests it
accepts; we read it as a token bucket (rate R, saved burst B, both unknown). The burst is
what makes it hard: refilled during a ``Retry-After``, it hides an overshoot of x requests/s
for B/x seconds, so "it held for a few seconds" proves nothing. In short:

* Unpaced until the first 429 (no limit binds: no slowdown); every 429 shuts the bucket for
  its ``Retry-After`` (never a request early), and a reopened bucket lets requests out one by
  one at the rate.
* At a 429 the rate goes to ``target`` x an estimate of R from when the burst ran out
  (``pacing/estimate.py``), and stays there (settled).
* A rate is raised only once *proven*: held, saturated, for as long as the burst could hide
  an overshoot of the step; a rate proven this run is given up only if it is itself refused.
* Settled, a rare probe above looks for a raised limit (refusals cost <= ``probe_cost``).
* A bucket that met no limit yet borrows the rate of one of the key's that has (``borrow``).

The rules in full, with the reasons and figures: docs/pacing.md. ``Learned`` is what a bucket
knows, kept between runs (``pacing/memory.py``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from batcher.pacing.estimate import estimate, fit
from batcher.pacing.policy import BucketStats, Learned, PacingPolicy

__all__ = ["BucketPacer", "BucketStats", "Learned", "PacingPolicy"]


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
    burst: float = 1.0
    """The service's saved burst, as estimated from the unpaced phase."""
    burst_span: float = 0.0
    """Seconds of refill included in ``burst`` (the unpaced phase's): B = burst - R x this."""
    retry_after: float = 0.0
    remembered: float | None = None
    _ceiling: float | None = None
    _refused: float | None = None
    _since: float = 0.0
    _count: int = 0
    _marks: list[tuple[float, int]] = field(default_factory=list)
    _episode: tuple[float, float] | None = None
    _settled: bool = False
    _proven: float = 0.0
    _floor: float = 0.0
    _taken: float = 0.0
    _waited: float = 0.0
    _searching: bool = False
    _step: float = 0.0
    _search_gap: float = 0.0
    _search_at: float = 0.0
    _accepted: deque[float] = field(default_factory=deque)
    _credit: float = 0.0

    def __post_init__(self) -> None:
        self._step = self.policy.probe_step

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
        if pace is None or self._credit >= 1.0:
            return now
        return max(now, self.next_slot)

    def take(self, now: float) -> None:
        """A request goes out now (``slot(now) <= now``)."""
        pace = self.pace()
        if self._credit >= 1.0:
            self._credit -= 1.0
        elif pace is not None:
            self.next_slot = max(self.next_slot, now) + 1.0 / pace
        self.requests += 1

    def _hold(self, rate: float) -> float:
        """How long ``rate`` must hold to be proven: long enough for the saved burst to run
        out at an overshoot of half the step that led here (or ``proof``, near an edge)."""
        p = self.policy
        hold = min(p.max_hold, max(p.min_hold, self.burst / (self._share() * rate)))
        if self._ceiling is None and not self._settled:
            # The next step doubles into the unknown and is likely refused: spend at most
            # about half the time since the last reopening on such a Retry-After window.
            hold = max(hold, 2.0 * self.retry_after)
        return hold

    def _share(self) -> float:
        return max(self.policy.proof, self._taken / 2)

    def _gap(self) -> float:
        p = self.policy
        edge = self._ceiling or self.rate or 0.0
        if self._refused is not None and self._refused > 1.25 * edge:
            # Only a lower bound under a much higher refusal: look in between soon.
            return self._hold(self.rate or edge or 1.0)
        return max(p.min_search_gap, self._search_gap, self.retry_after / p.probe_cost)

    def _hold_from(self, now: float, *, reopened: bool = False) -> None:
        """A new rate from ``now``: the proof starts over, and ``now`` is a time the service's
        bucket may have been full (after a reopening it surely was)."""
        self._since = now
        if reopened:
            self._count = 0
            self._marks.clear()
        self._mark(now)

    def _mark(self, now: float) -> None:
        if len(self._marks) >= 16:
            del self._marks[1]  # keep the reopening, the surest candidate
        self._marks.append((now, self._count))

    def _estimate(self, now: float) -> tuple[float, bool, float]:
        return estimate(self._marks, self._count, now, self.burst, self.burst_span)

    def _fit(self, now: float) -> tuple[float, float] | None:
        at, count = self._marks[-1]
        span = now - at
        if span <= 0 or self._count - count < 2:
            return None
        episode, self._episode = self._episode, (float(self._count - count), span)
        return None if episode is None else fit(episode, self._episode, self._floor)

    def saturated(self, now: float) -> None:
        """A request had to wait for its slot: demand exceeds the pace. Step up a rate that
        has been proven (or, settled, probe for a raised limit now and then)."""
        rate = self.rate
        if rate is None or now < self.closed_until:
            return
        if now - self._waited > 4.0 / rate:
            # Demand was under the pace for a while: the service's bucket may have filled
            # up meanwhile, so from now is a candidate start for the next estimate, and the
            # proof starts over (only time spent at the pace proves it).
            self._hold_from(now)
        self._waited = now
        if self.cap is not None and rate >= self.cap:
            return  # the user's ceiling binds, not the service's
        if now - self._since < self._hold(rate):
            return  # not proven yet: the service's burst may be hiding an overshoot
        p = self.policy
        self._proven = max(self._proven, rate)
        # What the proof shows: an overshoot of ``share`` would have been refused by now.
        self._floor = max(self._floor, rate * (1.0 - self._share()))
        if self._searching:  # a probe above the old edge held: the limit was raised
            self._searching = False
            self._settled = False
            # Climb towards the lowest rate refused, if it is above us; else double.
            above = self._refused is not None and self._refused > rate * (1.0 + p.search_step)
            self._ceiling = self._refused if above else None
            self._refused = self._ceiling
            self._search_gap = 0.0
        if self._settled:
            if now < self._search_at:
                return
            self._searching = True
            # Clearly above the rate, or the proof could not tell it from the old limit.
            nxt = rate * (1.0 + p.search_step)
        elif self._ceiling is None:
            nxt = 2 * rate  # no edge known: double, and let the next 429 tell where it is
        else:
            nxt = min(rate * (1.0 + self._step), p.target * self._ceiling)
            if nxt <= rate * 1.005:
                self._settle(now)
                return
            self._step = min(1.0, self._step * 2)
        self._taken = nxt / rate - 1.0
        self.rate = nxt
        self._hold_from(now)

    def _settle(self, now: float) -> None:
        self._settled = True
        self._search_at = now + self._gap()

    def accepted(self, now: float) -> None:
        if self.rate is None:  # only the unpaced phase needs the estimate
            self._accepted.append(now)
            while self._accepted and self._accepted[0] < now - self.policy.estimate_window:
                self._accepted.popleft()
        elif now >= self.closed_until:
            self._count += 1

    def throttled(self, now: float, retry_after: float) -> bool:
        """A 429. Returns True when it lowered the rate (False: an answer to a request
        already in flight when the bucket shut)."""
        self.throttles += 1
        self._credit = 0.0  # whatever burst the service had saved is spent
        fresh = now >= self.closed_until
        self.closed_until = max(self.closed_until, now + retry_after)
        # Reopen one by one: the first request at the reopening, then one per 1/rate.
        self.next_slot = max(self.next_slot, self.closed_until)
        if not fresh:
            return False
        p = self.policy
        self.retry_after = retry_after
        if self.rate is None:
            window = p.estimate_window
            times = [t for t in self._accepted if t >= now - window]
            self._accepted.clear()
            recent = max(1, len(times))
            self.burst = float(recent)
            self.burst_span = now - times[0] if times else 0.0
            self.rate = max(p.min_rate, p.target * recent / window)
        else:
            failed = self.rate
            guess, exact, span = self._estimate(now)
            fitted = self._fit(now)
            if fitted is not None:  # two clean episodes: both unknowns, burst included
                guess, self.burst = fitted
                self.burst_span = 0.0
                exact = True
            if failed <= self._proven:  # refused at a rate that had held: the limit went down
                self._proven = self._floor = 0.0
            # Never under what a proof showed this run (the estimate is a lower bound).
            floor = self._floor
            self._refused = failed if self._refused is None else min(self._refused, failed)
            if exact:  # the edge is known: no quick search needed
                self._refused = min(self._refused, guess * (1.0 + p.search_step))
                # ... and so is the burst without the refill counted in it.
                self.burst = max(1.0, self.burst - guess * self.burst_span)
                self.burst_span = 0.0
            self._settled = guess > 0
            if self._settled:  # the saved burst ran out at about R
                # Not above a rate that has held on the strength of a short episode (no more
                # accepted beyond the burst than the burst itself: noisy); the search looks
                # above it later.
                short = fitted is None and guess * span < 2 * self.burst
                held = max(self._proven, floor) if short and guess > self._proven > 0 else 0.0
                self.rate = max(p.min_rate, floor, min(p.target * guess, held or p.target * guess))
                self._ceiling = max(guess, floor)
            else:  # refused within moments: far over, and nothing to measure R by
                self.rate = max(p.min_rate, failed * p.decrease, floor)
                self._ceiling = failed if self._ceiling is None else min(self._ceiling, failed)
            if self._searching:  # the edge is where it was: look again twice as late
                self._search_gap = min(p.max_search_gap, 2 * self._gap())
            self._searching = False
        self._step = p.probe_step
        self._taken = 0.0
        self._hold_from(self.closed_until, reopened=True)
        if self._settled:
            self._settle(self.closed_until)
        return True

    def borrow(self, other: BucketPacer, now: float) -> None:
        """Another bucket of the key met its limit; this one has not met one yet. Limits of
        one key are set by its plan, so they tend to be of a size: pace at that bucket's rate
        (and burst) from now, rather than meet a 429 and a whole ``Retry-After`` to learn
        this one's. A proof steps up from there as usual, so a bucket whose limit is higher
        (or none) is slowed for one proof's time at most."""
        if self.rate is not None or other.rate is None:
            return
        self.rate = other.rate
        self.burst = other.burst
        self.burst_span = other.burst_span
        self._accepted.clear()
        self._hold_from(now, reopened=True)

    def learned(self) -> Learned | None:
        """What to start the next run with (None: no limit met, nothing to remember)."""
        if self.rate is None:
            return None
        return Learned(self.rate, self.burst, self.retry_after, self._ceiling, self._settled)

    def remember(self, learned: Learned, now: float) -> None:
        """Start where an earlier run left off: paced at once, no 429 needed to learn."""
        p = self.policy
        self.rate = max(p.min_rate, learned.rate)
        self.remembered = self.rate
        self.burst = max(1.0, learned.burst)
        self.retry_after = max(0.0, learned.retry_after)
        self._ceiling = learned.ceiling
        # A run starts hours after the last one: the service has saved its whole burst. Most
        # of it (as estimated) may go at once, as an unpaced start would have sent it.
        # Not with the user's cap: it means "never faster than this", bursts included.
        self._credit = 0.0 if self.cap is not None else 0.8 * max(0.0, self.burst - 1.0)
        self._hold_from(now, reopened=True)
        if learned.settled:
            self._settle(now)

    def stats(self) -> BucketStats:
        return BucketStats(
            self.requests,
            self.throttles,
            self.rate,
            self.cap,
            self.closed_until,
            self.remembered,
        )
