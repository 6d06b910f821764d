"""The ambiguous create (E4 accepted, answer lost): the rows are submitted again under fresh
blob names by default and marked, or (``on_ambiguous_create="report"``) reported
``submission_unconfirmed``; either way the batch is never halved to find a culprit."""

from __future__ import annotations

from pathlib import Path

import pytest

from batcher import run_batch
from batcher.sandbox import FaultSpec, SandboxConfig
from tests.fixtures.sandbox import MakeSandbox
from tests.integration.helpers import fast_settings, read_report
from tests.media import write_manifest, write_media

pytestmark = pytest.mark.anyio


# With this seed the sandbox cuts the connection after the FIRST create only (its later
# draws, up to the tenth request, stay above 0.2).
CUT_FIRST_CREATE = SandboxConfig(
    processing_delay=0.02, seed=29, faults={"create_submission": FaultSpec(drop_after=0.2)}
)


def _manifest(tmp_path: Path) -> Path:
    rows = [{"path": str(write_media(tmp_path, f"m/f{i}.png", 2_000 + i))} for i in range(4)]
    rows.append({"path": str(write_media(tmp_path, "m/big.mp4", 200_000))})  # presigned
    return write_manifest(tmp_path, rows)


async def test_a_cut_create_is_resubmitted_under_fresh_names_and_marked(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path)
    async with make_sandbox(CUT_FIRST_CREATE) as sb:
        settings = fast_settings(
            sb.base_url, tmp_path, batch_size=5, batch_linger=30, direct_max_bytes=100_000
        )
        summary = await run_batch(manifest, settings)
        state = sb.state
        creates = state.requests["create_submission"]
        first, second = list(state.submissions.values())
    lines = read_report(settings.report_path)  # type: ignore[arg-type]
    assert state.fault_counts["create_submission:drop_after"] == 1
    # The cut create, its resend (409: it had landed), and one create under fresh names.
    assert creates == 3
    assert state.created_submissions == 2
    assert [line["row"] for line in lines] == [1, 2, 3, 4, 5]
    assert all(line["status"] == "complete" and line["error"] is None for line in lines)
    assert summary.exit_code == 0
    earlier = {a.blob_path for a in first.assets}
    for line in lines:
        assert line["submissionId"] == second.submission_id
        assert line["blobPath"] not in earlier
        [note] = line["notes"]
        assert note["code"] == "resubmitted_after_ambiguous_create"
        assert first.submission_id not in note["message"]  # batcher never saw that ID
        assert any(path in note["message"] for path in earlier)  # names the earlier blob


async def test_report_mode_marks_the_batch_unconfirmed_without_halving_it(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path)
    async with make_sandbox(CUT_FIRST_CREATE) as sb:
        settings = fast_settings(
            sb.base_url,
            tmp_path,
            batch_size=5,
            batch_linger=30,
            direct_max_bytes=100_000,
            on_ambiguous_create="report",
        )
        summary = await run_batch(manifest, settings)
        creates = sb.state.requests["create_submission"]
        created = sb.state.created_submissions
    lines = read_report(settings.report_path)  # type: ignore[arg-type]
    assert creates == 2  # the cut create and its resend: no split into halves
    assert created == 1
    assert [line["error"]["code"] for line in lines] == ["submission_unconfirmed"] * 5
    assert summary.exit_code == 1
