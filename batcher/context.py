"""What every stage shares for one run, passed explicitly (no globals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import anyio

from batcher.api.protocol import MediaMagicApi
from batcher.blob.bandwidth import Bandwidth
from batcher.blob.budget import MemoryBudget
from batcher.blob.uploader import BlobUploader
from batcher.breaker import Breakers
from batcher.clock import Clock
from batcher.config import Settings
from batcher.pacing import Pacer
from batcher.state.journal import Journal


@dataclass
class RunCounters:
    rows_read: int = 0
    bytes_uploaded: int = 0
    bytes_sent: int = 0
    """Live: grows block by block while large files upload (progress and ETA)."""
    bytes_skipped: int = 0
    """Bytes of rows that will not be sent (refused, or done in an earlier run)."""
    files_uploaded: int = 0
    rows_submitted: int = 0
    submissions_created: int = 0
    polls: int = 0
    asset_retries: int = 0
    retries: int = 0

    def sent(self, delta: int) -> None:
        self.bytes_sent += delta

    def found(self, delta: int) -> None:
        """Blocks an earlier run staged: not sent now, so neither progress nor speed."""
        self.bytes_skipped += delta


@dataclass
class RunContext:
    settings: Settings
    client: MediaMagicApi
    uploader: BlobUploader
    budget: MemoryBudget
    clock: Clock
    run_id: str
    manifest_dir: Path
    journal: Journal
    stopping: anyio.Event = field(default_factory=anyio.Event)
    """Set on Ctrl-C / SIGTERM: stages take no new work (``shutdown.py``)."""
    counters: RunCounters = field(default_factory=RunCounters)
    pacing: Pacer | None = None
    """The rate-limit gate; ``pacing.closed_line()`` says which buckets are shut until when."""
    bandwidth: Bandwidth | None = None
    """``--bwlimit``: what direct uploads draw from before they are sent."""
    breakers: Breakers | None = None
    """The run's circuit breakers: ``breakers.notice()`` says which host is unreachable."""
