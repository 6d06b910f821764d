"""Ctrl-C and SIGTERM: stop taking new work, let what is in flight end within a bound, exit.

First signal (or ``request()`` from code): ``requested`` is set (stages stop taking rows;
pollers stop), and ``enforce_grace`` cancels the stages ``grace`` seconds of the run's clock
later, so in-flight requests can finish but a stuck one cannot hold the exit. Second signal:
cancel at once. Either way the journal holds every confirmed step and the next run resumes.
"""

from __future__ import annotations

import signal

import anyio

from batcher.clock import Clock


class Shutdown:
    def __init__(self, grace: float, clock: Clock) -> None:
        self.grace = grace
        self.clock = clock
        self.requested = anyio.Event()
        self.signum: int | None = None

    async def watch(self, stages: anyio.CancelScope) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                if not self.requested.is_set():
                    self.signum = signum
                    self.requested.set()
                else:
                    stages.cancel()

    def request(self) -> None:
        """The same as a first signal, for callers that stop a run from code."""
        self.requested.set()

    async def enforce_grace(self, stages: anyio.CancelScope) -> None:
        """Runs beside the stages for the whole run: once a stop is requested, give what is
        in flight ``grace`` seconds, then cut it."""
        await self.requested.wait()
        await self.clock.sleep(self.grace)
        stages.cancel()

    @property
    def reason(self) -> str:
        name = signal.Signals(self.signum).name if self.signum else "stop requested"
        return f"interrupted ({name}); re-run the same command to resume"
