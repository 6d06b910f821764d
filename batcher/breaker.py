"""A circuit breaker per host: when the service is unreachable, senders wait here instead of
failing rows, one probe at a time finds out when it is back, and after ``max_outage`` the
run stops cleanly (``ServiceUnreachable``) so the same command resumes later.

States:

* **closed**: calls go through. A connection that cannot be made (refused, DNS, connect
  timeout) opens it; so do ``threshold`` consecutive timeouts or gateway answers (for the
  API 502/503/504, for blob storage 502/504).
* **open**: no request goes out except one probe at a time, sent after a backoff on the
  clock (exponential, capped). A call whose request failed without reaching the service
  (a connection never made) waits here and is sent again once the host is back: its row
  does not fail and its retry budget is not spent. Failures that may have reached the
  service (a timeout, a dropped connection) are still handed to the caller, which knows
  whether re-sending is safe.
* **recovering**: the first success closes it; waiters are let go gradually (2 at once,
  doubling with each success), so a recovering host is not hit by every sender at once.

The wrappers for each seam are ``batcher.api.breaker`` and ``batcher.blob.breaker``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio

from batcher.clock import Clock
from batcher.errors import BatcherError, RequestTimeoutError, ServiceUnreachable, TransportError
from batcher.logs import event

T = TypeVar("T")

RAMP_START = 2
RAMP_DONE = 64
"""Once this many calls may run at once after an outage, the ramp is over."""


@dataclass(frozen=True)
class BreakerPolicy:
    threshold: int = 3
    """Consecutive timeouts / gateway answers that open the breaker (a connection that
    cannot be made opens it at once)."""
    probe_initial: float = 1.0
    probe_max: float = 30.0
    probe_multiplier: float = 2.0
    max_outage: float = 900.0
    """Seconds open before the run gives up (``ServiceUnreachable``)."""


def is_outage(exc: BaseException) -> bool:
    """A failure that says "the host is not there", not "this request went wrong"."""
    if isinstance(exc, RequestTimeoutError):
        return True  # no answer at all: the host may be gone (counts; not re-sent here)
    return isinstance(exc, TransportError) and exc.retryable and not exc.ambiguous


def hold_and_resend(exc: BaseException | None) -> bool:
    """Safe to send again ourselves: the request never reached the service."""
    return isinstance(exc, TransportError) and exc.retryable and not exc.ambiguous


class Breaker:
    def __init__(
        self,
        host: str,
        clock: Clock,
        policy: BreakerPolicy | None = None,
        *,
        armed: bool = True,
    ) -> None:
        self.host = host
        self.armed = armed
        """False until the host has answered once: a host that never answered is a wrong
        address, not an outage, and must fail at once (the API's pre-run probe)."""
        self._clock = clock
        self._policy = policy or BreakerPolicy()
        self._failures = 0
        self._opened_at: float | None = None
        self._opened_wall: float | None = None
        self._probing = False
        self._next_wait = self._policy.probe_initial
        self._ramp: int | None = None
        self._running = 0
        self._gone: ServiceUnreachable | None = None
        self._changed = anyio.Condition()
        self.opened = 0
        """How many times it opened (for the summary and tests)."""
        self.probes = 0

    # -- what the progress view and the log see --------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    @property
    def since(self) -> float | None:
        """Clock time the host became unreachable (None: reachable)."""
        return self._opened_at

    def notice(self) -> str | None:
        if self._opened_wall is None or self._opened_at is None:
            return None
        waited = self._clock.now() - self._opened_at
        left = max(0.0, self._policy.max_outage - waited)
        return (
            f"{self.host} unreachable since {_hhmmss(self._opened_wall)}, waiting "
            f"(gives up in {left:.0f} s)"
        )

    # -- the call --------------------------------------------------------------------------

    async def call(
        self, fn: Callable[[], Awaitable[T]], *, failed: Callable[[T], bool] | None = None
    ) -> T:
        """Run ``fn`` through the breaker. ``failed`` judges a returned value an outage
        failure (e.g. a 503 answer); such a value is still returned to the caller."""
        while True:
            probe = await self._enter()
            try:
                result = await fn()
            except BatcherError as exc:
                await self._leave(probe, ok=not is_outage(exc), cause=exc)
                if hold_and_resend(exc) and (self.is_open or self._gone is not None):
                    continue  # wait for the host, then send it again
                raise
            except BaseException:
                await self._leave(probe, ok=None, cause=None)
                raise
            bad = failed is not None and failed(result)
            await self._leave(probe, ok=not bad, cause=None)
            return result

    def _healthy(self) -> bool:
        return self._gone is None and not self.is_open and self._ramp is None

    async def _enter(self) -> bool:
        """Wait until this call may go; True if it goes as the probe."""
        if self._healthy():
            # The common case takes no lock and does not yield: a request that passed its
            # rate-limit gate goes out at once, not after every other sender has passed too.
            self._running += 1
            return False
        async with self._changed:
            while True:
                if self._gone is not None:
                    raise ServiceUnreachable(self._gone.message)  # one instance per task
                if self.is_open:
                    if not self._probing:
                        self._probing = True
                        break
                elif self._ramp is None or self._running < self._ramp:
                    self._running += 1
                    return False
                await self._changed.wait()
        try:
            await self._wait_before_probe()
        except BaseException:
            with anyio.CancelScope(shield=True):
                async with self._changed:
                    self._probing = False
                    self._changed.notify_all()
            raise
        self.probes += 1
        return True

    async def _wait_before_probe(self) -> None:
        if self._opened_at is None:
            return  # a late answer closed it meanwhile: go as an ordinary call
        deadline = self._opened_at + self._policy.max_outage
        wait = min(self._next_wait, max(0.0, deadline - self._clock.now()))
        self._next_wait = min(
            self._policy.probe_max, self._next_wait * self._policy.probe_multiplier
        )
        await self._clock.sleep(wait)

    async def _leave(self, probe: bool, *, ok: bool | None, cause: BaseException | None) -> None:
        """``ok`` None: the call was cancelled or failed otherwise (says nothing)."""
        if not probe and ok and self._healthy() and self._failures == 0:
            self._running -= 1  # nobody waits on a healthy breaker: no lock, no yield
            self.armed = True
            return
        with anyio.CancelScope(shield=True):
            async with self._changed:
                if not probe:
                    self._running -= 1
                if ok:
                    self._success()
                elif ok is False:
                    self._failure(cause)
                if probe:
                    self._probing = False
                    opened = self._opened_at
                    if opened is not None and self._clock.now() - opened >= self._policy.max_outage:
                        self._give_up()
                self._changed.notify_all()

    def _success(self) -> None:
        self.armed = True
        self._failures = 0
        if self.is_open:
            assert self._opened_at is not None
            down = self._clock.now() - self._opened_at
            self._opened_at = self._opened_wall = None
            self._ramp = RAMP_START
            self._next_wait = self._policy.probe_initial
            event(logging.INFO, "service reachable again", host=self.host, downSeconds=round(down))
        elif self._ramp is not None:
            self._ramp *= 2
            if self._ramp >= RAMP_DONE:
                self._ramp = None

    def _failure(self, cause: BaseException | None) -> None:
        self._failures += 1
        if self.is_open or not self.armed:
            return
        # A connection that cannot be made opens it at once: waiting costs a second if it
        # was a blip, while letting the retrier spend attempts on it could fail the row.
        # Timeouts and gateway answers may be one slow request: they need a streak.
        if not hold_and_resend(cause) and self._failures < self._policy.threshold:
            return
        self._opened_at = self._clock.now()
        self._opened_wall = self._clock.wall()
        self._ramp = None
        self.opened += 1
        # INFO: the library stays silent without a log file; the progress view shows it.
        event(
            logging.INFO,
            "service unreachable",
            host=self.host,
            since=_hhmmss(self._opened_wall),
            detail=getattr(cause, "message", ""),
            maxOutageSeconds=self._policy.max_outage,
        )

    def _give_up(self) -> None:
        assert self._opened_wall is not None
        self._gone = ServiceUnreachable(
            f"{self.host} unreachable since {_hhmmss(self._opened_wall)} "
            f"(waited {self._policy.max_outage:g} s, --max-outage); stopped. "
            "Nothing confirmed is lost: re-run the same command to resume."
        )
        event(logging.INFO, "service gone", host=self.host, detail=self._gone.message)


class Breakers:
    """The run's breakers (one per host), for the progress view's notice."""

    def __init__(self, clock: Clock, policy: BreakerPolicy | None = None) -> None:
        self.clock = clock
        self.policy = policy or BreakerPolicy()
        self._by_host: dict[str, Breaker] = {}

    def for_host(self, host: str, *, armed: bool = True) -> Breaker:
        breaker = self._by_host.get(host)
        if breaker is None:
            breaker = self._by_host[host] = Breaker(host, self.clock, self.policy, armed=armed)
        return breaker

    def all(self) -> list[Breaker]:
        return list(self._by_host.values())

    def notice(self) -> str | None:
        texts = [text for b in self._by_host.values() if (text := b.notice()) is not None]
        return "; ".join(texts) or None


def _hhmmss(wall: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall))
