"""What pacing is tuned by (``PacingPolicy``), what a bucket tells (``BucketStats``) and
what it knows to start the next run with (``Learned``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PacingPolicy:
    target: float = 0.97
    """Share of the estimated (or lowest refused) rate to pace at."""
    decrease: float = 0.5
    """Share kept when the refusal says little about the limit (refused within moments)."""
    probe_step: float = 0.05
    """First upward step of a proven rate; doubles while steps hold (up to 100 %)."""
    proof: float = 0.05
    """A rate is proven after holding long enough to have shown this share of overshoot."""
    min_hold: float = 2.0
    max_hold: float = 120.0
    probe_cost: float = 0.05
    """At most this share of a settled run goes to Retry-After windows of refused probes."""
    search_step: float = 0.15
    """A probe for a raised limit goes this share above the settled rate."""
    min_search_gap: float = 60.0
    max_search_gap: float = 3600.0
    min_rate: float = 0.2
    estimate_window: float = 1.0
    """The unpaced phase's accepted rate is measured over this many seconds."""


@dataclass(frozen=True)
class Learned:
    """What a bucket learned, to start the next run with."""

    rate: float
    burst: float
    retry_after: float
    ceiling: float | None
    settled: bool


@dataclass(frozen=True)
class BucketStats:
    requests: int
    throttles: int
    rate: float | None
    """The learned rate in requests/s (None: never throttled, not paced)."""
    cap: float | None
    closed_until: float
    """Clock time (monotonic) until which the bucket is shut; 0 when open."""
    remembered: float | None = None
    """The rate this run started at, learned by an earlier run (None: learned afresh)."""
