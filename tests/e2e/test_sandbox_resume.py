"""`--sandbox` killed with SIGKILL and run again meets the sandbox that holds its
submissions (its state lives next to the report), so the rows finish instead of ending
`poll/not_found`."""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
from pathlib import Path

import anyio
import pytest

from batcher.pipeline import journal_path_for
from tests.media import write_manifest, write_media

pytestmark = pytest.mark.anyio


def _submitted(journal: Path) -> int:
    if not journal.exists():
        return 0
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM rows WHERE state = 'submitted'").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        db.close()


async def test_a_killed_sandbox_run_resumes_against_the_same_sandbox(tmp_path: Path) -> None:
    rows = [{"path": str(write_media(tmp_path, f"m/f{i}.png", 2_000 + i))} for i in range(6)]
    manifest = write_manifest(tmp_path, rows)
    report = tmp_path / "report.jsonl"
    argv = [sys.executable, "-m", "batcher", str(manifest), "--sandbox", "-q"]
    argv += ["--report", str(report), "--batch-size", "3", "--batch-linger", "0.05"]
    async with await anyio.open_process(argv) as proc:
        with anyio.fail_after(60):
            while _submitted(journal_path_for(report)) < 6:  # noqa: ASYNC110
                await anyio.sleep(0.02)
        proc.send_signal(signal.SIGKILL)  # results take the sandbox's 1 s: none is written
        await proc.wait()
    assert (tmp_path / "report.jsonl.sandbox").is_dir()
    again = await anyio.run_process(argv, check=False)
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    lines = [json.loads(x) for x in report.read_text().splitlines()]
    assert sorted(line["row"] for line in lines) == list(range(1, 7))
    assert {line["status"] for line in lines} == {"complete"}
