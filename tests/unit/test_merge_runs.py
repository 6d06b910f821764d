"""Shard runs against the sandbox (over loopback) merge into the one-process run's report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batcher import run_batch
from batcher.errors import UsageError
from batcher.outcome import RowJob
from batcher.rows.manifest import ManifestRow
from batcher.sandbox import SandboxConfig
from batcher.scale.merge import merge
from batcher.scale.shard import Shard, bind_journal
from batcher.state.journal import Journal
from tests.fixtures.sandbox import MakeSandbox
from tests.integration.helpers import fast_settings, read_report
from tests.media import write_manifest, write_media

pytestmark = pytest.mark.anyio


def _manifest_row(line: dict[str, Any]) -> ManifestRow:
    return ManifestRow(line["row"], line["path"], None, None, {})


def _outcome(line: dict[str, Any]) -> tuple[Any, ...]:
    """What a row's result is, whichever process uploaded it (IDs differ per run)."""
    error = line["error"]["code"] if line["error"] else None
    return (line["row"], line["path"], line["status"], error, json.dumps(line["issues"]))


async def test_three_shards_merge_into_the_single_runs_results(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    rows = [{"path": f"m/f{i}.png"} for i in range(10)] + [{"path": "m/missing.png"}]
    for i in range(10):
        write_media(tmp_path, f"m/f{i}.png", 1_000 + i)
    manifest = write_manifest(tmp_path, rows)
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        whole = fast_settings(sb.base_url, tmp_path, report_path=tmp_path / "whole.jsonl")
        await run_batch(manifest, whole)
        parts = []
        for k in range(3):
            report = tmp_path / f"shard-{k}.jsonl"
            shard = Shard(index=k, count=3)
            await run_batch(
                manifest, fast_settings(sb.base_url, tmp_path, report_path=report, shard=shard)
            )
            lines = read_report(report)
            assert lines
            assert all(shard.takes(_manifest_row(x)) for x in lines)
            parts.append(report)
        uploads = sb.state.requests["direct_upload"]
    assert uploads == 20  # each file once by the whole run, once by its shard
    merged = tmp_path / "merged.jsonl"
    summary = merge(parts, merged, manifest)
    assert summary.rows == 11
    assert [_outcome(x) for x in read_report(merged)] == [
        _outcome(x) for x in read_report(tmp_path / "whole.jsonl")
    ]


def test_a_journal_is_not_resumed_as_another_shard(tmp_path: Path) -> None:
    path = tmp_path / "r.journal.sqlite"
    journal = Journal(path)
    bind_journal(journal.store, Shard(index=0, count=2))
    journal.rows.checked(
        RowJob(row=1, path_text="a.png", columns={}, key="path:/a.png", size=1, mtime_ns=1)
    )
    journal.rows.commit()
    journal.close()
    journal = Journal(path)  # unfinished: a resume
    try:
        bind_journal(journal.store, Shard(index=0, count=2))  # the same shard resumes
        with pytest.raises(UsageError, match="journal of shard 0/2, not of shard 1/2"):
            bind_journal(journal.store, Shard(index=1, count=2))
        with pytest.raises(UsageError, match="not of the whole manifest"):
            bind_journal(journal.store, None)
    finally:
        journal.close()
