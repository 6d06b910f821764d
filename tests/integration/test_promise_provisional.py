"""A retryable error left at the end of a run is provisional: never journaled as final, the
journal is not "complete", the run exits EXIT_INCOMPLETE, and the next run finishes it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from batcher import run_batch
from batcher.pipeline import journal_path_for
from batcher.sandbox import FaultSpec, SandboxConfig
from batcher.summary import EXIT_INCOMPLETE
from tests.fixtures.sandbox import MakeSandbox
from tests.integration.helpers import fast_settings, read_report
from tests.media import write_manifest, write_media

pytestmark = pytest.mark.anyio


def _journal_meta(report: Path, key: str) -> str | None:
    db = sqlite3.connect(journal_path_for(report))
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    finally:
        db.close()
    return None if row is None else str(row[0])


async def test_retries_spent_on_a_5xx_leave_the_row_for_the_next_run(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    rows = [{"path": str(write_media(tmp_path, f"m/f{i}.png", 2_000 + i))} for i in range(8)]
    manifest = write_manifest(tmp_path, rows)
    # One attempt per request: every drawn 500 ends its row as a retryable server_error.
    faults = {"direct_upload": FaultSpec(error_500=0.5)}
    async with make_sandbox(SandboxConfig(processing_delay=0.02, seed=5, faults=faults)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, retry_attempts=1)
        first = await run_batch(manifest, settings)
    lines = read_report(tmp_path / "report.jsonl")
    left = [line["row"] for line in lines if line["status"] != "complete"]
    assert 0 < len(left) < 8, "the seed must fail some rows and not others"
    assert {line["error"]["code"] for line in lines if line["error"]} == {"server_error"}
    assert first.exit_code == EXIT_INCOMPLETE
    assert first.provisional == len(left)
    assert _journal_meta(tmp_path / "report.jsonl", "completed") is None

    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as healthy:
        settings = fast_settings(healthy.base_url, tmp_path)
        second = await run_batch(manifest, settings)
        uploads = healthy.state.requests["direct_upload"]
    assert second.exit_code == 0
    assert uploads == len(left)  # only the provisional rows were done again
    again = read_report(tmp_path / "report.jsonl")
    assert [line["row"] for line in again] == list(range(1, 9))
    assert all(line["status"] == "complete" for line in again)
    assert _journal_meta(tmp_path / "report.jsonl", "completed") == "1"
