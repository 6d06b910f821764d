"""The whole job, in-process, against the sandbox over real loopback HTTP."""

from __future__ import annotations

import hashlib
from pathlib import Path

import anyio
import pytest

from batcher import run_batch
from batcher.sandbox import FaultSpec, SandboxConfig
from tests.fixtures.sandbox import MakeSandbox
from tests.integration.helpers import expected_issues, fast_settings, read_report
from tests.media import write_manifest, write_media

pytestmark = pytest.mark.anyio


async def test_both_upload_paths_end_complete_with_the_predicted_findings(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    files = {
        "logo.png": write_media(tmp_path, "media/logo.png", 3_000),
        "brochure.pdf": write_media(tmp_path, "media/brochure.pdf", 9_000),
        "spot.mp4": write_media(tmp_path, "media/spot.mp4", 300_001),  # 5 blocks of 64 KiB
        "tail.mp4": write_media(tmp_path, "media/tail.mp4", 131_072),  # exactly 2 blocks
    }
    manifest = write_manifest(
        tmp_path, [{"path": f"media/{n}", "asset_ref": f"A-{i}"} for i, n in enumerate(files)]
    )
    async with make_sandbox(SandboxConfig(processing_delay=0.05)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, direct_max_bytes=100_000)
        summary = await run_batch(manifest, settings)
        uploads = dict(sb.state.requests)

    lines = read_report(settings.report_path)  # type: ignore[arg-type]
    assert [line["row"] for line in lines] == [1, 2, 3, 4]
    assert [line["uploadMethod"] for line in lines] == [
        "direct",
        "direct",
        "presigned",
        "presigned",
    ]
    for line, path in zip(lines, files.values(), strict=True):
        assert line["status"] == "complete", line
        assert line["error"] is None
        assert line["bytes"] == path.stat().st_size
        assert line["issues"] == expected_issues(path.read_bytes(), line["blobPath"])
        assert line["issueCount"] == len(line["issues"])
        assert line["submissionId"] and line["assetId"] and line["versionNumber"] == 1
    assert lines[0]["columns"] == {"asset_ref": "A-0"}
    assert summary.rows == summary.complete == 4
    assert summary.exit_code == 0
    assert uploads["direct_upload"] == 2
    assert uploads["upload_url"] == 2
    assert uploads.get("blob_put_block", 0) >= 7
    assert uploads.get("blob_put_block_list", 0) == 2


async def test_same_file_name_in_two_folders_gets_two_results(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    a = write_media(tmp_path, "a/logo.png", 2_000, seed="first")
    b = write_media(tmp_path, "b/logo.png", 2_500, seed="second")
    manifest = write_manifest(tmp_path, [{"path": "a/logo.png"}, {"path": "b/logo.png"}])
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        settings = fast_settings(sb.base_url, tmp_path)
        await run_batch(manifest, settings)
    la, lb = read_report(settings.report_path)  # type: ignore[arg-type]
    assert la["blobPath"] != lb["blobPath"]
    assert la["status"] == lb["status"] == "complete"
    assert la["issues"] == expected_issues(a.read_bytes(), la["blobPath"])
    assert lb["issues"] == expected_issues(b.read_bytes(), lb["blobPath"])


async def test_rows_are_batched_into_submissions_of_n(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    rows = [{"path": str(write_media(tmp_path, f"m/f{i}.png", 1_000 + i))} for i in range(7)]
    manifest = write_manifest(tmp_path, rows)
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, batch_size=3, batch_linger=30)
        summary = await run_batch(manifest, settings)
        created = sb.state.created_submissions
    lines = read_report(settings.report_path)  # type: ignore[arg-type]
    assert summary.complete == 7
    assert created == 3  # 3 + 3 + the partial batch flushed at the end
    assert len({line["submissionId"] for line in lines}) == 3


async def test_a_partial_batch_is_flushed_after_the_linger_time(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    rows = [{"path": str(write_media(tmp_path, f"m/f{i}.png", 1_000 + i))} for i in range(3)]
    manifest = write_manifest(tmp_path, rows)
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        settings = fast_settings(
            sb.base_url, tmp_path, batch_size=100, batch_linger=0.01, upload_workers=1
        )
        summary = await run_batch(manifest, settings)
    assert summary.complete == 3
    assert summary.submissions >= 1


async def test_flaky_asset_is_retried_and_broken_asset_is_reported_failed(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    write_media(tmp_path, "flaky.txt", 500, marker=b"MM-FLAKY ")
    write_media(tmp_path, "broken.txt", 500, marker=b"MM-BROKEN ")
    write_media(tmp_path, "fine.txt", 500)
    manifest = write_manifest(
        tmp_path, [{"path": "flaky.txt"}, {"path": "broken.txt"}, {"path": "fine.txt"}]
    )
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        settings = fast_settings(sb.base_url, tmp_path)
        summary = await run_batch(manifest, settings)
        retries = sb.state.requests["retry_asset"]
    flaky, broken, fine = read_report(settings.report_path)  # type: ignore[arg-type]
    assert flaky["status"] == "complete"
    assert fine["status"] == "complete"
    assert broken["status"] == "failed"
    assert broken["error"]["stage"] == "result"
    assert broken["error"]["retryable"] is False
    assert retries == 1
    assert summary.asset_retries == 1
    assert summary.exit_code == 1


async def test_refused_assets_are_isolated_and_the_rest_of_the_batch_is_submitted(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    write_media(tmp_path, "ok1.png", 1_000)
    write_media(tmp_path, "ok2.pdf", 1_000)
    # No MP3 signature: too vague for the pre-flight sniff, refused by the service (415).
    (tmp_path / "lies.mp3").write_bytes(b"not really audio " * 60)
    write_media(tmp_path, "huge.png", 5_000)
    write_media(tmp_path, "ok3.mp3", 1_000)
    manifest = write_manifest(
        tmp_path,
        [
            {"path": "ok1.png"},
            {"path": "lies.mp3"},
            {"path": "ok2.pdf", "previous_submission_id": "00000000-0000-4000-8000-000000000000"},
            {"path": "huge.png"},
            {"path": "ok3.mp3"},
        ],
    )
    caps = {"video": 10**9, "audio": 10**9, "image": 4_000, "document": 10**9}
    async with make_sandbox(SandboxConfig(processing_delay=0.02, category_max_bytes=caps)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, batch_size=10, batch_linger=30)
        await run_batch(manifest, settings)
    ok1, lies, prev, huge, ok3 = read_report(settings.report_path)  # type: ignore[arg-type]
    # Halving makes the good rows' submissions as it goes (a create cannot be a dry probe),
    # so they may land in different submissions; all that matters is that they land.
    assert ok1["status"] == ok3["status"] == "complete"
    for line, status, code in [
        (lies, 415, "unsupported_media_type"),
        (prev, 404, "not_found"),
        (huge, 413, "too_large"),
    ]:
        assert line["status"] == "error"
        assert line["error"]["stage"] == "submit"
        assert line["error"]["httpStatus"] == status
        assert line["error"]["code"] == code
        assert line["blobPath"]  # uploaded, refused at submission


async def test_rerun_skip_reports_already_submitted_and_fresh_reviews_again(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    write_media(tmp_path, "spot.png", 1_000)
    manifest = write_manifest(tmp_path, [{"path": "spot.png"}])
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        first = fast_settings(sb.base_url, tmp_path, rerun="skip")
        await run_batch(manifest, first)
        again = fast_settings(
            sb.base_url, tmp_path, rerun="skip", report_path=tmp_path / "again.jsonl"
        )
        summary = await run_batch(manifest, again)
        fresh = fast_settings(sb.base_url, tmp_path, report_path=tmp_path / "fresh.jsonl")
        fresh_summary = await run_batch(manifest, fresh)
    (line,) = read_report(tmp_path / "again.jsonl")
    assert line["status"] == "error"
    assert line["error"]["code"] == "already_submitted"
    assert line["error"]["httpStatus"] == 409
    assert summary.exit_code == 1
    assert fresh_summary.complete == 1


async def test_preflight_errors_are_reported_and_the_rest_goes_on(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    write_media(tmp_path, "good.png", 1_000)
    (tmp_path / "adir").mkdir()
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "data.zip").write_bytes(b"PK\x03\x04")
    manifest = write_manifest(
        tmp_path,
        [
            {"path": "good.png"},
            {"path": "missing.mp4"},
            {"path": "adir", "content_type": "video/mp4"},
            {"path": "empty.png"},
            {"path": "data.zip"},
            {"path": "good.png"},
        ],
    )
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        settings = fast_settings(sb.base_url, tmp_path)
        summary = await run_batch(manifest, settings)
        sent = sb.state.requests["direct_upload"]
    lines = read_report(settings.report_path)  # type: ignore[arg-type]
    codes = [line["error"]["code"] if line["error"] else line["status"] for line in lines]
    assert codes == [
        "complete",
        "file_not_found",
        "not_a_file",
        "empty_file",
        "unsupported_media_type",
        "duplicate_row",
    ]
    assert all(line["error"]["stage"] == "preflight" for line in lines[1:])
    assert "row 1" in lines[5]["error"]["message"]
    assert sent == 1  # nothing refused locally spent bandwidth
    assert summary.rows == 6


async def test_names_with_spaces_quotes_and_non_ascii_letters_complete(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    names = ["Été promo 2026.png", 'the "best" offer.pdf', "广告 spot.mp4", "a,b;c.png"]
    for name in names:
        write_media(tmp_path, f"media/{name}", 3_000 if not name.endswith(".mp4") else 200_000)
    manifest = write_manifest(tmp_path, [{"path": f"media/{n}"} for n in names])
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, direct_max_bytes=100_000)
        summary = await run_batch(manifest, settings)
    lines = read_report(settings.report_path)  # type: ignore[arg-type]
    assert [line["status"] for line in lines] == ["complete"] * 4, lines
    assert summary.complete == 4
    assert lines[0]["blobPath"].split("/", 1)[1].startswith("Été promo 2026.")
    assert lines[2]["blobPath"].split("/", 1)[1].startswith("广告 spot.")
    assert [line["path"] for line in lines] == [f"media/{n}" for n in names]


async def test_the_api_key_is_never_sent_to_the_blob_host(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    write_media(tmp_path, "big.mp4", 300_000)
    write_media(tmp_path, "small.png", 3_000)
    manifest = write_manifest(tmp_path, [{"path": "big.mp4"}, {"path": "small.png"}])
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, direct_max_bytes=100_000)
        summary = await run_batch(manifest, settings)
        state = sb.state
    assert summary.complete == 2
    assert state.requests["blob_put_block"] > 0
    assert state.blob_requests_with_credentials == 0


async def test_stages_overlap_the_first_submission_is_created_while_uploads_go_on(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    rows = [{"path": str(write_media(tmp_path, f"m/f{i}.png", 20_000 + i))} for i in range(12)]
    manifest = write_manifest(tmp_path, rows)
    samples: list[tuple[int, int, int]] = []
    # Each direct upload takes ~20 ms here, so twelve of them through one worker take a while.
    faults = {"direct_upload": FaultSpec(latency_seconds=0.02)}
    async with make_sandbox(SandboxConfig(processing_delay=0.02, faults=faults)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, upload_workers=1, batch_size=2)

        async def watch() -> None:
            while True:
                st = sb.state
                samples.append(
                    (st.created_submissions, st.requests["direct_upload"], st.requests["get_asset"])
                )
                await anyio.sleep(0.002)

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            summary = await run_batch(manifest, settings)
            tg.cancel_scope.cancel()
    assert summary.complete == 12
    # A submission existed, and a result was fetched, while files were still uploading.
    assert any(created >= 1 and uploads < 12 for created, uploads, _ in samples)
    assert any(fetched >= 1 and uploads < 12 for _, uploads, fetched in samples)


async def test_a_direct_upload_larger_than_one_chunk_arrives_intact_under_a_small_budget(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    big = write_media(tmp_path, "spot.mp4", 3_000_000)  # direct (< 10 MB), streamed from disk
    manifest = write_manifest(tmp_path, [{"path": "spot.mp4"}])
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, memory_budget=1024 * 1024)
        summary = await run_batch(manifest, settings)
        (line,) = read_report(settings.report_path)  # type: ignore[arg-type]
        stats = sb.state.blob(line["blobPath"])
    assert summary.complete == 1
    assert line["uploadMethod"] == "direct"
    assert stats.committed_size == 3_000_000
    assert stats.committed_sha256 == hashlib.sha256(big.read_bytes()).hexdigest()
    assert line["issues"] == expected_issues(big.read_bytes(), line["blobPath"])
