"""The ETA model on a simulated run driven by the fake clock (no real sleeping)."""

from __future__ import annotations

import anyio

from batcher.clock import FakeClock
from batcher.progress.eta import EtaModel, Rates, Work, estimate, phase_of

ROWS, ROW_BYTES, BYTES_PER_S, PROCESSING_S = 100, 1_000_000, 2_000_000, 10.0
UPLOAD_END = ROWS * ROW_BYTES / BYTES_PER_S  # 50 s
TRUE_END = UPLOAD_END + PROCESSING_S  # the last row's result: 60 s


def _state(t: float) -> tuple[int, int, int, Work]:
    """A pipeline at time t: uploads at a steady rate, each row's result 10 s after it."""
    sent = min(ROWS * ROW_BYTES, int(t * BYTES_PER_S))
    uploaded = sent // ROW_BYTES
    done = min(ROWS, max(0, int((t - PROCESSING_S) * BYTES_PER_S / ROW_BYTES)))
    work = Work(
        rows_left=ROWS - done,
        bytes_left=ROWS * ROW_BYTES - sent,
        waiting_submit=0,
        processing=uploaded - done,
    )
    return sent, done, uploaded, work


def _simulate(sample_every: float = 1.0) -> list[tuple[float, float | None, str, bool]]:
    clock = FakeClock(start=0.0)
    model = EtaModel(window=30.0)
    seen: list[tuple[float, float | None, str, bool]] = []

    async def run() -> None:
        while clock.now() <= TRUE_END + 1:
            sent, done, _, work = _state(clock.now())
            est = model.update(clock.now(), bytes_sent=sent, rows_done=done, work=work)
            seen.append((clock.now(), est.seconds, est.phase, est.at_least))
            await clock.sleep(sample_every)

    anyio.run(run)
    return seen


def test_eta_predicts_the_end_including_processing_within_ten_percent() -> None:
    for t, seconds, _phase, at_least in _simulate():
        if t < PROCESSING_S + 5 or t >= TRUE_END:
            continue  # no result yet / over
        assert seconds is not None and not at_least
        assert abs(t + seconds - TRUE_END) <= 0.1 * TRUE_END, (t, seconds)


def test_bytes_alone_would_miss_the_processing_tail() -> None:
    # The old model at 31 s: bytes left / byte rate says 19 s; the run has 29 s to go.
    t = 31.0
    _, _, _, work = _state(t)
    assert work.bytes_left is not None
    bytes_only = work.bytes_left / BYTES_PER_S
    model_eta = estimate(work, Rates(BYTES_PER_S, BYTES_PER_S / ROW_BYTES)).seconds
    assert model_eta is not None
    assert abs(t + bytes_only - TRUE_END) > 8
    assert abs(t + model_eta - TRUE_END) < 2


def test_before_any_result_the_upload_time_is_a_lower_bound() -> None:
    first = next(s for s in _simulate() if s[0] == 5.0)
    _, seconds, phase, at_least = first
    assert phase == "uploading" and at_least
    assert seconds == (ROWS * ROW_BYTES - 5 * BYTES_PER_S) / BYTES_PER_S


def test_phases_follow_the_pipeline_instead_of_a_decaying_rate() -> None:
    phases = {t: phase for t, _, phase, _ in _simulate()}
    assert phases[10.0] == "uploading"
    assert phases[55.0] == "waiting for results"
    assert phases[TRUE_END] == "done"
    assert phase_of(Work(rows_left=5, bytes_left=0, waiting_submit=3, processing=0)) == (
        "submitting"
    )
    assert phase_of(Work(rows_left=5, bytes_left=0, waiting_submit=0, processing=0)) == (
        "finishing"
    )
    assert phase_of(Work(rows_left=5, bytes_left=0, waiting_submit=0, processing=0, reading=True))
    stopping = Work(rows_left=5, bytes_left=9, waiting_submit=0, processing=2, stopping=True)
    assert estimate(stopping, Rates(1e6, 1.0)).phase == "stopping"
    assert estimate(stopping, Rates(1e6, 1.0)).seconds is None  # no countdown while stopping


def test_unknown_totals_and_zero_rates_give_no_estimate() -> None:
    assert estimate(Work(None, None, 0, 0), Rates(1e6, 1.0)).seconds is None
    assert estimate(Work(10, 1000, 0, 5), Rates(0.0, 0.0)).seconds is None


def test_fast_refusals_do_not_promise_the_end_while_bytes_wait() -> None:
    # Three rows refused in a blink, 27 MB not yet moving: no estimate rather than "now".
    work = Work(rows_left=8, bytes_left=27_000_000, waiting_submit=0, processing=0)
    assert estimate(work, Rates(0.0, 30.0)).seconds is None
