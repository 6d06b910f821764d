"""Shared helpers for pipeline tests against the sandbox."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from pydantic import SecretStr

from batcher.config import PollSettings, Settings
from batcher.pipeline import run_batch
from batcher.sandbox import DEFAULT_TEST_KEY
from batcher.sandbox.findings import findings_for


def fast_settings(base_url: str, tmp_path: Path, **kw: Any) -> Settings:
    """Settings sized for tests: tiny waits, small blocks, report under tmp_path."""
    values: dict[str, Any] = {
        "base_url": base_url,
        "api_key": SecretStr(DEFAULT_TEST_KEY),
        "report_path": tmp_path / "report.jsonl",
        "batch_linger": 0.05,
        "retry_initial_wait": 0.01,
        "block_size": 64 * 1024,
        "poll": PollSettings(initial=0.02, multiplier=1.5, max_interval=0.2, deadline=30),
    }
    values.update(kw)
    return Settings(**values)


def read_report(path: Path) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    return sorted(lines, key=lambda d: d["row"])


def expected_issues(data: bytes, blob_path: str) -> list[dict[str, Any]]:
    assert blob_path  # uploaded; findings depend on the bytes only
    return findings_for(hashlib.sha256(data).digest())


def journaled(report: Path, state: str) -> int:
    """Rows the run's journal holds in ``state`` (committed ones: what a crash would leave),
    read-only while the run goes on."""
    import sqlite3

    from batcher.pipeline import journal_path_for

    path = journal_path_for(report)
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM rows WHERE state = ?", (state,)).fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        db.close()


async def run_until(settings: Settings, manifest: Path, done: Callable[[], bool]) -> None:
    """Run, and cancel the run (as a crash would end it) once ``done()`` holds."""
    async with anyio.create_task_group() as tg:

        async def run() -> None:
            await run_batch(manifest, settings)
            tg.cancel_scope.cancel()

        tg.start_soon(run)
        with anyio.fail_after(20):
            while not done():  # noqa: ASYNC110 (polling a predicate on the sandbox state)
                await anyio.sleep(0.005)
        tg.cancel_scope.cancel()
