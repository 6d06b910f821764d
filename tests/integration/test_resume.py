"""Journal and resume: nothing lost, nothing sent twice, across stops and restarts."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from batcher import run_batch
from batcher.pipeline import journal_path_for
from batcher.sandbox import FaultSpec, SandboxConfig
from tests.fixtures.sandbox import MakeSandbox
from tests.integration.helpers import fast_settings, journaled, read_report, run_until
from tests.media import write_manifest, write_media

pytestmark = pytest.mark.anyio


def _manifest(tmp_path: Path, n: int = 6, big: int = 0) -> Path:
    rows = [{"path": str(write_media(tmp_path, f"m/f{i}.png", 2_000 + i))} for i in range(n)]
    rows += [{"path": str(write_media(tmp_path, f"m/big{i}.mp4", 700_000))} for i in range(big)]
    return write_manifest(tmp_path, rows)


async def test_a_finished_run_makes_the_next_run_a_new_sweep(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path, 3)
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        settings = fast_settings(sb.base_url, tmp_path)
        await run_batch(manifest, settings)
        first = read_report(tmp_path / "report.jsonl")
        second = await run_batch(manifest, settings)
        uploads = sb.state.requests["direct_upload"]
    again = read_report(tmp_path / "report.jsonl")
    assert second.complete == 3
    assert uploads == 6  # reviewed again: the nightly sweep case
    assert len(again) == 3
    assert [a["blobPath"] != b["blobPath"] for a, b in zip(first, again, strict=True)] == [True] * 3
    assert [a["issues"] for a in first] == [b["issues"] for b in again]  # same bytes, same findings


async def test_resume_polls_submitted_rows_instead_of_resubmitting(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path, 6)
    async with make_sandbox(SandboxConfig(processing_delay=0.5)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, batch_size=3, batch_linger=30)
        report = tmp_path / "report.jsonl"
        # Cut once the client has journaled both creates (the sandbox counting them is
        # earlier: a cut between the two is the ambiguous create, another test's subject).
        await run_until(settings, manifest, lambda: journaled(report, "submitted") == 6)
        created = sb.state.created_submissions
        summary = await run_batch(manifest, settings)
        state = sb.state
    assert summary.complete == 6
    assert state.created_submissions == created == 2  # polled again, not resubmitted
    assert state.requests["direct_upload"] == 6  # nothing uploaded twice
    assert state.duplicate_content_hashes() == []
    assert [line["row"] for line in read_report(settings.report_path)] == list(range(1, 7))  # type: ignore[arg-type]


async def test_finished_rows_keep_their_lines_and_are_not_touched(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    rows = [{"path": str(write_media(tmp_path, f"m/f{i}.png", 2_000 + i))} for i in range(2)]
    # Rows 3 and 4 fail once and are retried (E9): they finish a processing delay after rows
    # 1 and 2, so the run is surely cut between the two.
    rows += [
        {"path": str(write_media(tmp_path, f"m/flaky{i}.txt", 300, marker=b"MM-FLAKY "))}
        for i in range(2)
    ]
    manifest = write_manifest(tmp_path, rows)
    async with make_sandbox(SandboxConfig(processing_delay=0.3)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, batch_size=1, upload_workers=1)
        report = settings.report_path
        assert report is not None
        await run_until(
            settings,
            manifest,
            lambda: report.exists() and len(report.read_text().splitlines()) >= 2,
        )
        before = {line["row"]: line for line in read_report(report)}
        uploads_before = sb.state.requests["direct_upload"]
        await run_batch(manifest, settings)
        after = {line["row"]: line for line in read_report(report)}
        uploads_after = sb.state.requests["direct_upload"]
    assert sorted(after) == [1, 2, 3, 4]
    for row, line in before.items():
        assert after[row] == line  # the same line, not recomputed
    assert uploads_after == 4  # finished and submitted rows were not uploaded again
    assert uploads_before >= len(before)


async def test_half_uploaded_large_file_resends_only_missing_blocks(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path, 0, big=1)
    size = 700_000
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        settings = fast_settings(
            sb.base_url, tmp_path, direct_max_bytes=100_000, block_concurrency=1
        )
        await run_until(settings, manifest, lambda: sb.state.requests["blob_put_block"] >= 5)
        await run_batch(manifest, settings)
        received = sb.state.blob_bytes_received
    (line,) = read_report(tmp_path / "report.jsonl")
    assert line["status"] == "complete"
    block = 64 * 1024
    # Everything once, plus at most the block that was in flight when the run was cut.
    assert size <= received <= size + 2 * block


async def test_a_changed_file_is_uploaded_again(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, 2)
    async with make_sandbox(SandboxConfig(processing_delay=0.5)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, batch_linger=30)
        # Both uploaded and submitted (an upload cut in flight would rightly be redone), as
        # the client's journal says: the sandbox's count comes before the client knows.
        report = tmp_path / "report.jsonl"
        await run_until(settings, manifest, lambda: journaled(report, "submitted") == 2)
        target = tmp_path / "m" / "f0.png"
        target.write_bytes(target.read_bytes() + b"changed")
        os.utime(target, ns=(1, 1))
        summary = await run_batch(manifest, settings)
        uploads = sb.state.requests["direct_upload"]
    assert summary.complete == 2
    assert uploads == 3


async def test_journal_size_stays_proportional_to_the_manifest(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path, 5, big=1)
    faults = {"*": FaultSpec(error_500=0.2)}  # retries must not grow the journal
    async with make_sandbox(SandboxConfig(processing_delay=0.02, faults=faults, seed=5)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, direct_max_bytes=100_000, retry_attempts=10)
        await run_batch(manifest, settings)
    db = sqlite3.connect(journal_path_for(tmp_path / "report.jsonl"))
    try:
        rows = db.execute("SELECT count(*) FROM rows").fetchone()[0]
        blocks = db.execute("SELECT count(*) FROM blocks").fetchone()[0]
    finally:
        db.close()
    assert rows == 6  # one per manifest row, whatever the retries
    assert blocks == 0  # staged blocks are forgotten once the blob is committed


async def test_fresh_flag_ignores_an_unfinished_run(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path, 3)
    async with make_sandbox(SandboxConfig(processing_delay=0.5)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, batch_linger=30)
        await run_until(settings, manifest, lambda: sb.state.created_submissions >= 1)
        fresh = fast_settings(sb.base_url, tmp_path, batch_linger=30, fresh=True)
        summary = await run_batch(manifest, fresh)
        created = sb.state.created_submissions
    assert summary.complete == 3
    assert created == 2


async def test_direct_uploads_before_a_crash_are_submitted_without_sending_them_again(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    rows = [{"path": str(write_media(tmp_path, f"m/f{i}.png", 2_000 + i))} for i in range(6)]
    # One worker takes the rows in order: the large file's upload starts only after the six
    # small ones are done, and its first journal write commits theirs (deferred until then).
    rows.append({"path": str(write_media(tmp_path, "m/big.mp4", 700_000))})
    manifest = write_manifest(tmp_path, rows)
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        settings = fast_settings(
            sb.base_url,
            tmp_path,
            direct_max_bytes=100_000,
            upload_workers=1,
            block_concurrency=1,
            batch_size=100,
            batch_linger=30,  # nothing is submitted before the cut
        )
        await run_until(settings, manifest, lambda: sb.state.requests["blob_put_block"] >= 2)
        assert sb.state.created_submissions == 0
        assert sb.state.requests["direct_upload"] == 6
        again = settings.model_copy(update={"batch_linger": 0.05})
        summary = await run_batch(manifest, again)
        direct = sb.state.requests["direct_upload"]
        submitted = {a.blob_path for a in sb.state.all_assets()}
    assert summary.complete == 7
    assert direct == 6  # the six small files were not sent again
    lines = read_report(tmp_path / "report.jsonl")
    assert {line["blobPath"] for line in lines} == submitted


def _insert_at_top(manifest: Path, path: Path) -> None:
    header, *rest = manifest.read_text().splitlines()
    manifest.write_text("\n".join([header, str(path), *rest]) + "\n")


async def test_a_row_inserted_at_the_top_does_not_make_submitted_rows_upload_again(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path, 6)
    paths = [str(tmp_path / "m" / f"f{i}.png") for i in range(6)]
    async with make_sandbox(SandboxConfig(processing_delay=0.5)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, batch_size=3, batch_linger=30)
        report = tmp_path / "report.jsonl"
        await run_until(settings, manifest, lambda: journaled(report, "submitted") == 6)
        before = {a.blob_path: a.asset_id for a in sb.state.all_assets()}
        new = write_media(tmp_path, "m/new.png", 2_500)
        _insert_at_top(manifest, new)
        summary = await run_batch(manifest, settings)
        direct = sb.state.requests["direct_upload"]
        created = sb.state.created_submissions
    assert summary.complete == 7
    assert direct == 7  # only the new row was uploaded
    assert created == 3  # the six were polled, not resubmitted
    lines = read_report(tmp_path / "report.jsonl")
    assert [line["row"] for line in lines] == list(range(1, 8))
    assert [line["path"] for line in lines] == [str(new), *paths]
    assert all(line["status"] == "complete" and line["error"] is None for line in lines)
    assert {line["blobPath"]: line["assetId"] for line in lines[1:]} == before


async def test_finished_lines_follow_their_file_to_its_new_row_number(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    rows = [{"path": str(write_media(tmp_path, f"m/f{i}.png", 2_000 + i))} for i in range(2)]
    rows += [
        {"path": str(write_media(tmp_path, f"m/flaky{i}.txt", 300, marker=b"MM-FLAKY "))}
        for i in range(2)
    ]
    manifest = write_manifest(tmp_path, rows)
    async with make_sandbox(SandboxConfig(processing_delay=0.3)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, batch_size=1, upload_workers=1)
        report = settings.report_path
        assert report is not None
        await run_until(
            settings,
            manifest,
            lambda: report.exists() and len(report.read_text().splitlines()) >= 2,
        )
        before = {line["path"]: line for line in read_report(report)}
        new = write_media(tmp_path, "m/new.png", 2_500)
        _insert_at_top(manifest, new)
        await run_batch(manifest, settings)
        direct = sb.state.requests["direct_upload"]
    after = {line["path"]: line for line in read_report(report)}
    assert sorted(line["row"] for line in after.values()) == [1, 2, 3, 4, 5]
    assert after[str(new)]["row"] == 1
    for path, line in before.items():
        assert after[path] == {**line, "row": line["row"] + 1}  # the same line, renumbered
    assert direct == 5
