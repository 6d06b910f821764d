"""Shared by the client programs: the job file they read and the JSON line they print."""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_job() -> dict[str, Any]:
    job: dict[str, Any] = json.loads(Path(sys.argv[1]).read_text())
    return job


def emit(**figures: Any) -> None:
    print(json.dumps(figures), flush=True)
