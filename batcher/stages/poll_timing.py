"""When to poll a submission next: backoff from ``poll.initial`` by ``poll.multiplier`` up to
``poll.max_interval``, sooner when ``progressPercent`` predicts the end, and with webhooks on
a slow reconciliation schedule (events do the fast path)."""

from __future__ import annotations

from batcher.config import PollSettings, WebhookSettings
from batcher.context import RunContext
from batcher.outcome import Ticket


def poll_interval(settings: PollSettings, polls_done: int) -> float:
    return min(settings.max_interval, settings.initial * settings.multiplier**polls_done)


def next_wait(settings: PollSettings, ticket: Ticket) -> float:
    """Backoff, but no later than the end ``progressPercent`` predicts: a long backoff would
    otherwise find a finished submission up to a whole interval late."""
    backoff = poll_interval(settings, ticket.polls)
    if ticket.eta is None:
        return backoff
    floor = min(settings.min_interval, settings.initial)
    return max(floor, min(backoff, ticket.eta * 1.05))


def reconcile_wait(webhooks: WebhookSettings, ticket: Ticket) -> float:
    """With webhooks on, the wait before the next status read of a submission."""
    backoff: float = min(webhooks.reconcile_max, webhooks.reconcile_first * 2.0**ticket.polls)
    if ticket.eta is None:
        return backoff
    margin: float = webhooks.settle_margin
    return max(margin, min(backoff, ticket.eta * 1.05 + margin))


def hooked_wait(
    webhooks: WebhookSettings, ticket: Ticket, woken: bool, heard: frozenset[str]
) -> float:
    """With webhooks on, after a round (``woken``: one events asked for) that did not
    finish the submission; ``heard``: the assets events have named so far."""
    if woken and any(a not in ticket.done and a not in heard for a in ticket.jobs):
        # Some assets had no event yet. Siblings end close together, so one that has not
        # come within the margin was probably lost: read the status then.
        return webhooks.settle_margin
    # A status read, or every open asset had its event (an E9 retry runs now): its next
    # event is a whole processing time away, so only reconcile.
    return reconcile_wait(webhooks, ticket)


def note_progress(ticket: Ticket, percent: int | None, now: float) -> None:
    if percent is None:
        return
    if ticket.progress is None or percent < ticket.progress[1]:
        ticket.progress, ticket.eta = (now, percent), None  # first sight, or a retry restarted
        return
    then, before = ticket.progress
    if percent > before and now > then:
        rate = (percent - before) / (now - then)
        ticket.progress, ticket.eta = (now, percent), (100 - percent) / rate


def first_wait(ctx: RunContext, ticket: Ticket) -> float:
    webhooks = ctx.settings.webhooks
    if webhooks is None:
        return poll_interval(ctx.settings.poll, 0)
    if ticket.resumed:
        return 0.0  # its events went to an earlier run: read its status now
    return webhooks.reconcile_first
