"""Ctrl-C and SIGTERM: stop taking new work, let what is in flight end within a bound, exit.

First signal: ``requested`` is set (stages stop taking rows; pollers stop), and the stages'
cancel scope gets a deadline ``grace`` seconds away, so in-flight requests can finish but a
stuck one cannot hold the exit. Second signal: cancel at once. Either way the journal holds
every confirmed step and the next run resumes.
"""

from __future__ import annotations

import signal

import anyio

from batcher.errors import BatcherError


class Interrupted(BatcherError):
    code = "interrupted"


class Shutdown:
    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.requested = anyio.Event()
        self.signum: int | None = None

    async def watch(self, stages: anyio.CancelScope) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                if not self.requested.is_set():
                    self.signum = signum
                    self.requested.set()
                    stages.deadline = min(stages.deadline, anyio.current_time() + self.grace)
                else:
                    stages.cancel()

    def request(self, stages: anyio.CancelScope) -> None:
        """The same as a first signal, for callers that stop a run from code."""
        self.requested.set()
        stages.deadline = min(stages.deadline, anyio.current_time() + self.grace)

    @property
    def reason(self) -> str:
        name = signal.Signals(self.signum).name if self.signum else "stop requested"
        return f"interrupted ({name}); re-run the same command to resume"
