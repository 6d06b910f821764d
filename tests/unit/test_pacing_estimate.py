"""The two estimators of the service's rate (``batcher/pacing/estimate.py``) on episodes
computed from a token bucket by hand: rate R = 25/s, saved burst B = 25."""

from __future__ import annotations

import pytest

from batcher.pacing.estimate import estimate, fit

R, B = 25.0, 25.0


def _over(pace: float) -> tuple[float, float]:
    """(accepted, seconds) from a full bucket at ``pace`` until the first 429."""
    seconds = B / (pace - R)
    return pace * seconds, seconds


def test_the_burst_running_out_gives_the_rate_and_says_it_is_exact() -> None:
    accepted, seconds = _over(26.0)  # 650 accepted in 25 s
    rate, exact, span = estimate([(0.0, 0)], round(accepted), seconds, B, 0.0)
    assert span == pytest.approx(seconds)
    assert rate == pytest.approx(R, rel=0.01)
    assert exact


def test_a_lull_under_the_limit_makes_it_only_a_lower_bound() -> None:
    # 250 accepted in 10 s, then demand fell: 50 in the next 30 s, and a 429. The service's
    # bucket filled up again during the lull, so the estimate is a loose lower bound: said.
    loose, exact, _ = estimate([(0.0, 0), (10.0, 250)], 300, 40.0, B, 0.0)
    assert loose < 0.5 * R and not exact
    # With a mark where the step to 50/s began (after a minute at 10/s), it is right.
    right, exact, _ = estimate([(0.0, 0), (30.0, 300), (60.0, 600)], 650, 61.0, B, 0.0)
    assert right == pytest.approx(R, rel=0.01)
    assert exact


def test_a_burst_counted_with_its_refill_is_corrected() -> None:
    # The unpaced phase counted 30 in 0.2 s: the burst (25) and 0.2 s of refill at 25/s.
    accepted, seconds = _over(30.0)
    rate, _, _ = estimate([(0.0, 0)], round(accepted), seconds, 30.0, 0.2)
    assert rate == pytest.approx(R, rel=0.02)


def test_two_episodes_need_no_burst() -> None:
    assert fit(_over(26.0), _over(35.0), floor=0.0) == pytest.approx((R, B))
    assert fit(_over(26.0), _over(26.1), floor=0.0) is None  # too alike to tell apart
    assert fit(_over(26.0), _over(35.0), floor=30.0) is None  # contradicts a proof
