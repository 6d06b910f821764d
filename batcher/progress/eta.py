"""The ETA model: what is left (rows, bytes, submissions) over what recent rates say.

A run is a pipeline: bytes go up, rows are batched into submissions, the service processes
them, results come back. An ETA from bytes alone ignores the last stretch (processing) and,
once uploads end, has nothing to say. This model takes two estimates and the larger wins:

* pipeline: the bytes still to send at the recent byte rate, plus the time a row currently
  spends between submission and result (Little's law: rows in processing / rows finishing
  per second), because the last upload still has that wait ahead of it;
* throughput: the rows still without a result at the recent finishing rate.

Rates are over the last ``window`` seconds of samples (not the whole run: a slow start must
not poison the estimate for hours). Pure: no clock, no I/O; callers pass the time in.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

PHASES = ("uploading", "submitting", "waiting for results", "stopping", "finishing", "done")


@dataclass(frozen=True)
class Rates:
    bytes_per_second: float
    rows_per_second: float
    """Rows reaching their final line."""


@dataclass(frozen=True)
class Work:
    """What is left, as the pipeline's counters say it."""

    rows_left: int | None
    """Rows without a final line; None while the manifest is still being counted."""
    bytes_left: int | None
    """Bytes still to send in this run; None while unknown."""
    waiting_submit: int
    """Uploaded, not yet in a submission."""
    processing: int
    """In a submission, no result yet."""
    reading: bool = False
    """The manifest has rows not read yet (more uploads to come even if no bytes are left)."""
    stopping: bool = False


@dataclass(frozen=True)
class Estimate:
    phase: str
    seconds: float | None
    at_least: bool = False
    """No row has finished yet: ``seconds`` is the upload time alone, a lower bound."""


class RateWindow:
    """Rates over the last ``window`` seconds from (time, bytes, rows) samples.

    Leading samples where a figure has not moved yet are left out of its rate: results only
    start after the first submission is processed, and counting that wait as "0 rows/s"
    would triple the ETA early in a run.
    """

    def __init__(self, window: float = 30.0) -> None:
        self.window = window
        self._samples: collections.deque[tuple[float, int, int]] = collections.deque()

    def add(self, now: float, sent: int, done: int) -> Rates:
        self._samples.append((now, sent, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()
        return Rates(self._rate(now, sent, 1), self._rate(now, done, 2))

    def _rate(self, now: float, value: int, field: int) -> float:
        first = self._samples[0]
        base = first
        for sample in self._samples:
            if sample[field] != first[field]:
                break
            base = sample  # the last sample before the figure first moved
        span = now - base[0]
        return (value - base[field]) / span if span > 0 else 0.0


def phase_of(work: Work) -> str:
    if work.stopping:
        return "stopping"
    if work.reading or (work.bytes_left is not None and work.bytes_left > 0):
        return "uploading"
    if work.waiting_submit > 0:
        return "submitting"
    if work.processing > 0:
        return "waiting for results"
    if work.rows_left == 0:
        return "done"
    return "finishing"


def estimate(work: Work, rates: Rates) -> Estimate:
    phase = phase_of(work)
    if phase == "done":
        return Estimate(phase, 0.0)
    if phase == "stopping" or work.rows_left is None:
        return Estimate(phase, None)
    candidates: list[float] = []
    upload = _upload_seconds(work.bytes_left, rates.bytes_per_second)
    if upload is None and work.bytes_left:
        # Bytes to send but no byte rate yet: rows refused in pre-flight finish fast and
        # would make the finishing rate alone promise the end at once.
        return Estimate(phase, None)
    latency = None
    in_service = work.processing + work.waiting_submit
    if rates.rows_per_second > 0:
        latency = in_service / rates.rows_per_second
        candidates.append(work.rows_left / rates.rows_per_second)
    if upload is not None and latency is not None:
        candidates.append(upload + latency)
    if candidates:
        return Estimate(phase, max(candidates))
    if upload is not None and upload > 0:
        return Estimate(phase, upload, at_least=True)
    return Estimate(phase, None)


def _upload_seconds(bytes_left: int | None, rate: float) -> float | None:
    if bytes_left is None:
        return None
    if bytes_left <= 0:
        return 0.0
    return bytes_left / rate if rate > 0 else None


class EtaModel:
    """Samples counters as the run goes and turns them into an ``Estimate``."""

    def __init__(self, window: float = 30.0) -> None:
        self.window = RateWindow(window)
        self.last = Rates(0.0, 0.0)

    def update(self, now: float, *, bytes_sent: int, rows_done: int, work: Work) -> Estimate:
        self.last = self.window.add(now, bytes_sent, rows_done)
        return estimate(work, self.last)
