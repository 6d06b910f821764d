"""The service's rate from what it accepted before a 429, read as a token bucket (rate R,
saved burst B): two pure functions for ``BucketPacer``.

A *mark* is a time the service's bucket may have been full (a reopening, a step up, demand
coming back after a lull), with the count of requests accepted by then.
"""

from __future__ import annotations


def estimate(
    marks: list[tuple[float, int]], count: int, now: float, burst: float, burst_span: float
) -> tuple[float, bool, float]:
    """R from the mark after which the burst ran out (0: nothing to go on); whether it is
    exact: from that mark on the service took at least that rate all along, so its bucket
    never filled up again (else it is only a lower bound); and the seconds it rests on (a
    short episode makes a noisy estimate).

    From a full bucket at mark time a, B + R*(now - a) = N accepted since; each mark gives a
    lower bound on R and the largest is the estimate. ``burst`` was counted with
    ``burst_span`` seconds of refill in it: B = burst - R*burst_span."""
    ends = [*marks[1:], (now, count)]
    best, start, exact, span = 0.0, 0, False, 0.0
    for i, (at, seen) in enumerate(marks):
        if now - at <= burst_span:
            continue
        bound = (count - seen - burst) / (now - at - burst_span)
        if bound > best:
            best, start, span = bound, i, now - at
    if best > 0:
        spans = zip(marks[start:], ends[start:], strict=True)
        exact = all(n1 - n0 >= 0.98 * best * (t1 - t0) for (t0, n0), (t1, n1) in spans if t1 > t0)
    return best, exact, span


def fit(
    first: tuple[float, float], second: tuple[float, float], floor: float
) -> tuple[float, float] | None:
    """R and B from two clean episodes, (N accepted, T seconds) each at one pace from a full
    bucket to the 429: N = B + R*T twice. A burst learned before the limit changed would bias
    every single-episode estimate low; two episodes need no burst at all. None when they are
    too alike, or the answer is not one the episodes allow (refused at both paces, so R is
    under each; a proof showed R >= ``floor``)."""
    (n1, t1), (n2, t2) = first, second
    if abs(t2 - t1) < 0.2 * max(t1, t2):
        return None
    rate = (n2 - n1) / (t2 - t1)
    burst = n1 - rate * t1
    under = min(n1 / t1, n2 / t2)
    if not (max(floor, 0.0) <= rate < under and 1.0 <= burst <= min(n1, n2)):
        return None  # the bucket was not full at a start, or demand fell: no fit
    return rate, burst
