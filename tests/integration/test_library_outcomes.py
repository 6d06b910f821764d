"""Library use: each row's outcome handed to the caller (a callback, an async iterator),
exactly once per row, lines carried from an earlier run included."""

from __future__ import annotations

from pathlib import Path

import pytest

from batcher import PollSettings, ReportLine, run_batch, stream_batch
from batcher.sandbox import SandboxConfig
from tests.fixtures.sandbox import MakeSandbox
from tests.integration.helpers import fast_settings, read_report
from tests.media import write_manifest, write_media

pytestmark = pytest.mark.anyio


def _manifest(tmp_path: Path) -> Path:
    write_media(tmp_path, "a.png", 1_000)
    write_media(tmp_path, "b.pdf", 2_000)
    return write_manifest(tmp_path, [{"path": "a.png"}, {"path": "b.pdf"}, {"path": "gone.png"}])


async def test_on_row_gets_every_line_once_as_the_report_does(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path)
    seen: list[ReportLine] = []
    async with make_sandbox(SandboxConfig(processing_delay=0.05)) as sb:
        settings = fast_settings(sb.base_url, tmp_path)
        summary = await run_batch(manifest, settings, on_row=seen.append)
        assert settings.report_path is not None
        report = read_report(settings.report_path)
    assert sorted(x.row for x in seen) == [1, 2, 3]
    assert {x.row: x.status for x in seen} == {r["row"]: r["status"] for r in report}
    assert summary.rows == 3 and summary.complete == 2


async def test_on_row_includes_lines_carried_from_an_unfinished_run(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path)
    first: list[ReportLine] = []
    again: list[ReportLine] = []
    async with make_sandbox(SandboxConfig(processing_delay=2.0)) as sb:
        # A deadline shorter than processing: rows 1-2 end provisional, the run unfinished.
        short = fast_settings(sb.base_url, tmp_path, poll=PollSettings(initial=0.02, deadline=0.2))
        await run_batch(manifest, short, on_row=first.append)
        await run_batch(manifest, fast_settings(sb.base_url, tmp_path), on_row=again.append)
    codes = {x.row: x.error.code if x.error else x.status for x in first}
    assert codes == {1: "deadline_exceeded", 2: "deadline_exceeded", 3: "file_not_found"}
    assert sorted(x.row for x in again) == [1, 2, 3]  # row 3 carried from the journal
    assert {x.row: x.status for x in again} == {1: "complete", 2: "complete", 3: "error"}


async def test_stream_batch_yields_outcomes_then_the_summary(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path)
    async with make_sandbox(SandboxConfig(processing_delay=0.05)) as sb:
        settings = fast_settings(sb.base_url, tmp_path)
        async with stream_batch(manifest, settings) as outcomes:
            with pytest.raises(RuntimeError, match="not ended"):
                _ = outcomes.summary
            rows = {line.row: line.status async for line in outcomes}
    assert rows == {1: "complete", 2: "complete", 3: "error"}
    assert outcomes.summary.rows == 3 and outcomes.summary.exit_code == 1
