"""``Pacer``: the in-process ``RequestGate``, one ``BucketPacer`` per bucket, on the clock.

Every wait is a clock sleep in the caller's task, so Ctrl-C (a cancel scope) ends it at once
and a fake clock drives it in tests. A bucket shut for longer than ``max_wait`` seconds is
not waited for: ``ThrottledTooLong`` stops the run, whose next run resumes after the window.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from batcher.clock import Clock, RealClock
from batcher.errors import ThrottledTooLong, UsageError
from batcher.logs import event
from batcher.pacing.bucket import BucketPacer, BucketStats, Learned, PacingPolicy
from batcher.pacing.gate import BUCKETS, DEFAULT_RETRY_AFTER, Bucket


def parse_rate_caps(specs: list[str] | str | None) -> dict[str, float]:
    """``["upload=20", "submission_read=5"]`` or ``"upload=20,submission_read=5"``."""
    if not specs:
        return {}
    items = (
        specs.split(",")
        if isinstance(specs, str)
        else [part for spec in specs for part in spec.split(",")]
    )
    caps: dict[str, float] = {}
    for item in (i.strip() for i in items):
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in BUCKETS:
            raise UsageError(
                f"--max-rate {item!r}: want BUCKET=REQUESTS_PER_S, BUCKET one of "
                + ", ".join(BUCKETS)
            )
        try:
            rate = float(value)
        except ValueError:
            rate = -1.0
        if not rate > 0:
            raise UsageError(f"--max-rate {item!r}: the rate must be a number above 0")
        caps[name.strip()] = rate
    return caps


def clock_time(clock: Clock, at: float) -> str:
    """A monotonic clock time as the local wall time of day, HH:MM:SS."""
    return datetime.fromtimestamp(clock.wall() + (at - clock.now())).strftime("%H:%M:%S")


@dataclass
class Pacer:
    clock: Clock = field(default_factory=RealClock)
    max_wait: float = 300.0
    """Longest ``Retry-After`` the run waits out; longer stops it (``ThrottledTooLong``)."""
    caps: dict[str, float] = field(default_factory=dict)
    policy: PacingPolicy = field(default_factory=PacingPolicy)
    buckets: dict[str, BucketPacer] = field(init=False)

    def __post_init__(self) -> None:
        self.buckets = {b: BucketPacer(self.policy, self.caps.get(b)) for b in BUCKETS}

    def __getitem__(self, bucket: Bucket) -> BucketPacer:
        return self.buckets[bucket]

    async def acquire(self, bucket: Bucket) -> None:
        state = self.buckets[bucket]
        waited = False
        while True:
            now = self.clock.now()
            slot = state.slot(now)
            if slot <= now:
                state.take(now)
                return
            if now < state.closed_until:
                self._check_window(bucket, state, now)
            elif not waited:
                state.saturated(now)
                waited = True
            # Re-check after the sleep: a 429 meanwhile may have shut the bucket further.
            await self.clock.sleep(slot - now)

    def _check_window(self, bucket: str, state: BucketPacer, now: float) -> None:
        wait = state.closed_until - now
        if wait > self.max_wait:
            until = clock_time(self.clock, state.closed_until)
            raise ThrottledTooLong(
                f"the service shut the {bucket} bucket until {until} ({wait:.0f} s, more than "
                f"--max-throttle-wait {self.max_wait:g} s); re-run the same command after "
                f"{until} to finish",
                bucket=bucket,
                until=until,
            )

    def on_throttled(self, bucket: Bucket, retry_after: float | None) -> None:
        state = self.buckets[bucket]
        wait = DEFAULT_RETRY_AFTER if retry_after is None else max(0.0, retry_after)
        now = self.clock.now()
        lowered = state.throttled(now, wait)
        if lowered:
            for other in self.buckets.values():
                other.borrow(state, now)
            pace = state.pace()
            event(
                logging.WARNING,
                "throttled",
                bucket=bucket,
                retryAfter=wait,
                closedUntil=clock_time(self.clock, state.closed_until),
                rate=None if pace is None else round(pace, 2),
            )

    def on_success(self, bucket: Bucket) -> None:
        self.buckets[bucket].accepted(self.clock.now())

    def statistics(self) -> dict[str, BucketStats]:
        return {bucket: state.stats() for bucket, state in self.buckets.items()}

    def learned(self) -> dict[str, Learned]:
        """What each bucket that met a limit knows now, for the next run."""
        found = {bucket: state.learned() for bucket, state in self.buckets.items()}
        return {bucket: x for bucket, x in found.items() if x is not None}

    def remember(self, learned: dict[str, Learned]) -> None:
        """Start each bucket an earlier run learned at its rate (``pacing/memory.py``)."""
        now = self.clock.now()
        for bucket, x in learned.items():
            state = self.buckets.get(bucket)
            if state is not None:
                state.remember(x, now)

    def closed_line(self) -> str | None:
        """For a progress view: which buckets are shut right now, and until when."""
        now = self.clock.now()
        shut = [
            f"{bucket} bucket closed until {clock_time(self.clock, s.closed_until)}"
            for bucket, s in self.buckets.items()
            if s.closed_until > now
        ]
        return "; ".join(shut) or None
