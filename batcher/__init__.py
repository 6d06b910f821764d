"""batcher: upload media to MediaMagic, submit it for compliance review, report every row.

The library is the product; the CLI is a thin client of ``run_batch``.
"""

from __future__ import annotations

from batcher.config import PollSettings, Settings
from batcher.errors import (
    AuthenticationError,
    BatcherError,
    FatalApiError,
    PlanError,
    RowError,
    UsageError,
)
from batcher.outcome import ErrorInfo, ReportLine
from batcher.pipeline import run_batch
from batcher.streaming import Outcomes, stream_batch
from batcher.summary import RunSummary

__all__ = [
    "AuthenticationError",
    "BatcherError",
    "ErrorInfo",
    "FatalApiError",
    "Outcomes",
    "PlanError",
    "PollSettings",
    "ReportLine",
    "RowError",
    "RunSummary",
    "Settings",
    "UsageError",
    "run_batch",
    "stream_batch",
]
