"""Ctrl-C and SIGTERM: stop taking new work, let what is in flight end within a bound, exit.

First signal: ``requested`` is set (stages stop taking rows; pollers stop), and the stages'
cancel scope gets a deadline ``grace`` seconds away, so in-flight requests can finish but a
stuck one cannot hold the exit. Second signal: cancel at once. Either way the journal holds
every confirmed step and the next run resumes.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

import anyio

from batcher.errors import BatcherError


class Interrupted(BatcherError):
    code = "interrupted"


class Shutdown:
    def __init__(self, grace: float, on_request: Callable[[bool], None] | None = None) -> None:
        self.grace = grace
        self.requested = anyio.Event()
        self.signum: int | None = None
        self.on_request = on_request
        """Told at once of each stop request (True: the second, which stops now), so the
        user sees the Ctrl-C acknowledged rather than bars still moving."""

    async def watch(self, stages: anyio.CancelScope) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                if not self.requested.is_set():
                    self.signum = signum
                    self.requested.set()
                    stages.deadline = min(stages.deadline, anyio.current_time() + self.grace)
                    self._tell(now=False)
                else:
                    self._tell(now=True)
                    stages.cancel()

    def request(self, stages: anyio.CancelScope) -> None:
        """The same as a first signal, for callers that stop a run from code."""
        self.requested.set()
        stages.deadline = min(stages.deadline, anyio.current_time() + self.grace)
        self._tell(now=False)

    def _tell(self, *, now: bool) -> None:
        if self.on_request is not None:
            self.on_request(now)

    @property
    def reason(self) -> str:
        name = signal.Signals(self.signum).name if self.signum else "stop requested"
        return f"interrupted ({name}); re-run the same command to resume"
