"""``stream_batch``: a run's outcomes as an async iterator, for scripts that act on each row
as it finishes (the callback form is ``run_batch(..., on_row=...)``).

    async with stream_batch(manifest, settings) as outcomes:
        async for line in outcomes:
            ...
    print(outcomes.summary.exit_code)
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from batcher.config import Settings
from batcher.outcome import ReportLine
from batcher.pipeline import run_batch
from batcher.summary import RunSummary


class Outcomes:
    """Each row's ``ReportLine`` once, in the order rows finish; ``summary`` once the
    iteration has ended."""

    def __init__(self, lines: MemoryObjectReceiveStream[ReportLine]) -> None:
        self._lines = lines
        self._summary: RunSummary | None = None

    def __aiter__(self) -> AsyncIterator[ReportLine]:
        return self._lines.__aiter__()

    @property
    def summary(self) -> RunSummary:
        if self._summary is None:
            raise RuntimeError("the run has not ended yet: iterate over every outcome first")
        return self._summary


@asynccontextmanager
async def stream_batch(
    manifest: Path, settings: Settings, **options: Any
) -> AsyncIterator[Outcomes]:
    """Run ``run_batch(manifest, settings, **options)`` beside the caller's loop. The run
    never waits for the caller (the buffer is unbounded: report lines are small, and a slow
    consumer must not slow uploads). Leaving the block early cancels the run; the journal
    keeps its progress, so running again resumes."""
    send, receive = anyio.create_memory_object_stream[ReportLine](math.inf)
    outcomes = Outcomes(receive)

    async def run() -> None:
        with send:
            outcomes._summary = await run_batch(
                manifest, settings, on_row=send.send_nowait, **options
            )

    async with anyio.create_task_group() as tg, receive:
        tg.start_soon(run)
        try:
            yield outcomes
        except BaseException:
            tg.cancel_scope.cancel()
            raise
