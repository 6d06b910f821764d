from __future__ import annotations

import pytest

from batcher.config import PollSettings
from batcher.outcome import Ticket
from batcher.stages.poll import next_wait, note_progress, poll_interval

SETTINGS = PollSettings(initial=5, multiplier=1.5, max_interval=60, min_interval=1)


def _ticket(polls: int = 0) -> Ticket:
    return Ticket("s", {}, created_at=0.0, polls=polls)


def test_backoff_starts_at_the_documented_5_s_and_grows_to_the_cap() -> None:
    waits = [poll_interval(SETTINGS, n) for n in range(12)]
    assert waits[0] == 5
    assert waits[1] == 7.5
    assert waits == sorted(waits)
    assert waits[-1] == 60


def test_progress_predicts_the_end_and_shortens_a_long_backoff() -> None:
    ticket = _ticket(polls=8)  # backoff has grown to 60 s
    note_progress(ticket, 20, now=100.0)
    note_progress(ticket, 60, now=110.0)  # 4 %/s: 10 s left
    assert ticket.eta == pytest.approx(10)
    assert next_wait(SETTINGS, ticket) == pytest.approx(10.5)


def test_prediction_never_polls_faster_than_the_floor_or_slower_than_backoff() -> None:
    soon = _ticket(polls=1)
    note_progress(soon, 10, now=0.0)
    note_progress(soon, 99, now=1.0)
    assert next_wait(SETTINGS, soon) == 1  # the floor
    slow = _ticket(polls=0)
    note_progress(slow, 10, now=0.0)
    note_progress(slow, 11, now=10.0)  # 0.1 %/s: 890 s left
    assert next_wait(SETTINGS, slow) == 5  # the backoff


def test_no_progress_signal_means_plain_backoff_and_a_retry_resets_it() -> None:
    ticket = _ticket(polls=2)
    note_progress(ticket, None, now=0.0)
    assert next_wait(SETTINGS, ticket) == poll_interval(SETTINGS, 2)
    note_progress(ticket, 50, now=0.0)
    note_progress(ticket, 90, now=4.0)
    assert ticket.eta is not None
    note_progress(ticket, 0, now=5.0)  # E9 put the submission back to processing
    assert ticket.eta is None
