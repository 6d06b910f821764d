"""--incremental: nightly sweeps against the sandbox, night after night.

Submissions hold one asset each here (``batch_size=1``): the API does not say how a
``previousSubmissionId`` naming a submission of several assets maps to one of them (the
sandbox takes its first asset's version group), so only a one-asset previous submission
gives an unambiguous chain to assert.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from batcher import run_batch
from batcher.cli.dryrun import dry_run
from batcher.config import Settings
from batcher.pipeline import journal_path_for
from batcher.sandbox import Sandbox, SandboxConfig, SandboxState
from batcher.stages.carry import Decision
from tests.fixtures.sandbox import MakeSandbox
from tests.integration.helpers import fast_settings, journaled, read_report, run_until
from tests.media import write_manifest, write_media

pytestmark = pytest.mark.anyio


def _settings(sb: Sandbox, tmp_path: Path, **kw: Any) -> Settings:
    values: dict[str, Any] = {"incremental": True, "key_column": "dam_id", "batch_size": 1}
    values.update(kw)
    return fast_settings(sb.base_url, tmp_path, **values)


def _by_key(report: Path) -> dict[str, dict[str, Any]]:
    return {line["columns"]["dam_id"]: line for line in read_report(report)}


def _meta(report: Path, key: str) -> str:
    db = sqlite3.connect(journal_path_for(report))
    try:
        return str(db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])
    finally:
        db.close()


def _sql(report: Path, statement: str, *args: Any) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(journal_path_for(report))
    try:
        with db:
            return list(db.execute(statement, args))
    finally:
        db.close()


def _asset(state: SandboxState, blob_path: str) -> Any:
    asset = state.find_asset_by_blob_path(blob_path)
    assert asset is not None, blob_path
    return asset


def _carried(now: dict[str, Any], before: dict[str, Any], row: int, sweep: str) -> None:
    """A carried line is the earlier one as it was, under its new row, plus reusedFrom."""
    assert now["reusedFrom"]["sweep"] == sweep
    assert datetime.fromisoformat(now["reusedFrom"]["reviewedAt"]) <= datetime.now(UTC)
    same = {k: v for k, v in before.items() if k not in ("row", "path", "reusedFrom")}
    assert {k: now[k] for k in same} == same
    assert now["row"] == row


def _library(tmp_path: Path) -> dict[str, Path]:
    lib = {
        "A": write_media(tmp_path, "lib/a.png", 2_000),
        "B": write_media(tmp_path, "lib/b.png", 2_100),
        "C": write_media(tmp_path, "lib/c.png", 2_200),
        "D": write_media(tmp_path, "lib/d.txt", 300, marker=b"MM-BROKEN "),
        "F": write_media(tmp_path, "lib/f.txt", 320, marker=b"MM-FLAKY "),
        "M": write_media(tmp_path, "lib/m.png", 2_300),
        "X": tmp_path / "lib" / "x.png",  # missing on the first night
    }
    return lib


def _write(tmp_path: Path, lib: dict[str, Path]) -> Path:
    rows = [{"path": str(p.relative_to(tmp_path)), "dam_id": k} for k, p in lib.items()]
    return write_manifest(tmp_path, rows)


async def test_three_nights_carry_version_retry_and_forget(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    lib = _library(tmp_path)
    manifest = _write(tmp_path, lib)
    report = tmp_path / "report.jsonl"
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        st = sb.state
        # Night 1: F's retryable failure is left as it is (no E9), X is missing.
        night1 = await run_batch(manifest, _settings(sb, tmp_path, poll=_no_e9()))
        n1 = _by_key(report)
        sweep1 = _meta(report, "run_id")
        assert {k: line["status"] for k, line in n1.items()} == {
            "A": "complete", "B": "complete", "C": "complete", "D": "failed", "F": "failed",
            "M": "complete", "X": "error",
        }  # fmt: skip
        assert n1["F"]["error"]["retryable"] is True
        assert n1["D"]["error"]["retryable"] is False
        assert night1.sweep is not None and night1.sweep.removed == []
        direct1, created1 = st.requests["direct_upload"], st.created_submissions
        assert (direct1, created1) == (6, 6)

        # Night 2: B changed, C removed, M moved (same bytes), X now exists, N new.
        write_media(tmp_path, "lib/b.png", 2_150, seed="b, second edit")
        lib["B"].touch()
        removed = lib.pop("C")
        moved = tmp_path / "lib" / "moved" / "m.png"
        moved.parent.mkdir()
        os.rename(lib["M"], moved)
        lib["M"] = moved
        write_media(tmp_path, "lib/x.png", 2_400)
        lib["N"] = write_media(tmp_path, "lib/n.png", 2_500)
        manifest = _write(tmp_path, lib)
        night2 = await run_batch(manifest, _settings(sb, tmp_path))
        n2 = _by_key(report)
        sweep2 = _meta(report, "run_id")
        direct2, created2 = st.requests["direct_upload"], st.created_submissions

        # Night 3 (--fresh): A's result is past --max-age; everything else is carried.
        month_ago = (datetime.now(UTC) - timedelta(days=30)).isoformat(timespec="seconds")
        _sql(report, "UPDATE history SET reviewed_at = ? WHERE key = 'key:A'", month_ago)
        night3 = await run_batch(manifest, _settings(sb, tmp_path, fresh=True, max_age_days=7))
        n3 = _by_key(report)
        direct3, created3 = st.requests["direct_upload"], st.created_submissions
        history = _sql(report, "SELECT key FROM history ORDER BY key")
        assets = {line["blobPath"]: _asset(st, line["blobPath"]) for line in n3.values()}
        first = {k: _asset(st, n1[k]["blobPath"]) for k in ("A", "B", "F")}

    # Night 2: only B (changed), F (retryable failure), X (error) and N (new) were sent.
    assert (direct2 - direct1, created2 - created1) == (4, 4)
    assert sorted(n2) == ["A", "B", "D", "F", "M", "N", "X"]
    assert [n2[k]["row"] for k in lib] == list(range(1, 8))
    for key in ("A", "D", "M"):
        _carried(n2[key], n1[key], row=list(lib).index(key) + 1, sweep=sweep1)
    assert n2["M"]["path"] == "lib/moved/m.png"
    assert n2["D"]["status"] == "failed"  # the same bytes give the same answer
    for key in ("B", "F"):  # the next version of the same asset
        assert n2[key]["reusedFrom"] is None
        assert n2[key]["status"] == "complete"
        assert n2[key]["versionGroupId"] == n1[key]["versionGroupId"]
        assert n2[key]["versionNumber"] == 2
        assert n2[key]["submissionId"] != n1[key]["submissionId"]
        assert n2[key]["blobPath"] != n1[key]["blobPath"]
    for key in ("X", "N"):
        assert n2[key]["status"] == "complete" and n2[key]["versionNumber"] == 1
    assert night2.sweep is not None
    assert night2.sweep.removed == [str(removed.relative_to(tmp_path))]
    summary = night2.as_dict()["sweep"]
    assert summary["removed"] == 1 and summary["removedPaths"] == ["lib/c.png"]
    assert (summary["carried"], summary["changed"], summary["retried"], summary["new"]) == (
        3, 1, 2, 1,
    )  # fmt: skip
    assert "removed since the last sweep: 1" in night2.render()

    # Night 3: A reviewed again as version 2 of its chain; B carried from night 2.
    assert (direct3 - direct2, created3 - created2) == (1, 1)
    assert n3["A"]["versionNumber"] == 2 and n3["A"]["reusedFrom"] is None
    assert n3["A"]["versionGroupId"] == n1["A"]["versionGroupId"]
    _carried(n3["B"], n2["B"], row=2, sweep=sweep2)
    _carried(n3["D"], n1["D"], row=3, sweep=sweep1)
    assert night3.sweep is not None and night3.sweep.removed == []
    assert [k for (k,) in history] == [f"key:{k}" for k in sorted(lib)]  # one per file

    # The service's own records: each new version joined its predecessor's group.
    for key in ("A", "B", "F"):
        line = n3[key] if key == "A" else n2[key]
        asset = assets.get(line["blobPath"]) or first[key]
        assert asset.version_group_id == first[key].version_group_id
        assert asset.version_number == 2


def _no_e9() -> Any:
    from batcher.config import PollSettings

    return PollSettings(
        initial=0.02, multiplier=1.5, max_interval=0.2, deadline=30, asset_retries=0
    )


async def test_a_crash_in_the_middle_of_night_two_resumes_without_sending_twice(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    lib = {f"K{i}": write_media(tmp_path, f"lib/f{i}.png", 2_000 + i) for i in range(6)}
    manifest = _write(tmp_path, lib)
    report = tmp_path / "report.jsonl"
    async with make_sandbox(SandboxConfig(processing_delay=0.3)) as sb:
        st = sb.state
        await run_batch(manifest, _settings(sb, tmp_path))
        n1 = _by_key(report)
        for i in range(3):  # night 2 changes three files
            write_media(tmp_path, f"lib/f{i}.png", 2_100 + i, seed=f"edit {i}")
        direct1, created1 = st.requests["direct_upload"], st.created_submissions
        settings = _settings(sb, tmp_path, upload_workers=1)
        # Cut the night (as a crash would) once one new version is submitted.
        await run_until(settings, manifest, lambda: journaled(report, "submitted") >= 1)
        cut = st.created_submissions - created1
        resumed = await run_batch(manifest, settings)
        n2 = _by_key(report)
        direct2, created2 = st.requests["direct_upload"], st.created_submissions
        versions = sorted((a.version_group_id, a.version_number) for a in st.all_assets())
    assert 1 <= cut < 3  # really cut in the middle
    # A row whose create was in flight at the cut is resubmitted once under a fresh name,
    # marked (the service may hold the lost one too); every other changed file once.
    noted = {k for k, line in n2.items() if line["notes"]}
    assert all(
        [n["code"] for n in n2[k]["notes"]] == ["resubmitted_after_ambiguous_create"] for k in noted
    )
    assert noted <= {"K0", "K1", "K2"} and len(noted) <= 1
    assert created2 - created1 == 3 + len(noted)
    assert 3 <= direct2 - direct1 <= 3 + settings.upload_workers + len(noted)
    assert len(st.duplicate_content_hashes()) == len(noted)
    for i in range(6):
        line, before = n2[f"K{i}"], n1[f"K{i}"]
        assert line["row"] == i + 1
        assert line["error"] is None and line["status"] == "complete"
        if i < 3:
            # The next version (a resubmitted one is one further: the lost create counted).
            assert line["versionNumber"] == (3 if f"K{i}" in noted else 2)
            assert line["reusedFrom"] is None
            assert line["versionGroupId"] == before["versionGroupId"]
        else:
            assert line["reusedFrom"] is not None
            assert line["submissionId"] == before["submissionId"]
    groups = [g for g, _ in versions]
    for i, before in enumerate(n1.values()):
        expected = 1 if i >= 3 else 2 + (f"K{i}" in noted)
        assert groups.count(before["versionGroupId"]) == expected
    assert resumed.sweep is not None and resumed.sweep.removed == []


async def test_dry_run_tells_the_plan_of_the_next_night(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    lib = _library(tmp_path)
    manifest = _write(tmp_path, lib)
    report = tmp_path / "report.jsonl"
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        settings = _settings(sb, tmp_path)
        await run_batch(manifest, settings)
        requests = sum(sb.state.requests.values())
        write_media(tmp_path, "lib/b.png", 2_150, seed="b, second edit")
        lib.pop("C")
        lib["N"] = write_media(tmp_path, "lib/n.png", 2_500)
        manifest = _write(tmp_path, lib)
        plan = dry_run(manifest, settings, journal=journal_path_for(report))
        after = sum(sb.state.requests.values())
    assert after == requests  # nothing sent
    sweep = plan.as_dict()["sweep"]
    # X is still missing: refused by pre-flight, not planned. F passed its E9 retry.
    assert {k: sweep[k] for k in ("carried", "changed", "new", "retried", "aged")} == {
        "carried": 4, "changed": 1, "new": 1, "retried": 0, "aged": 0,
    }  # fmt: skip
    assert sweep["removed"] == 1 and sweep["removedPaths"] == ["lib/c.png"]
    assert sweep["uploadBytes"] == 2_150 + 2_500
    assert "unchanged (carried)" in plan.render()


async def test_two_rows_with_one_key_are_refused_once(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    a = write_media(tmp_path, "lib/a.png", 2_000)
    b = write_media(tmp_path, "lib/b.png", 2_100)
    rows = [{"path": str(a), "dam_id": "K"}, {"path": str(b), "dam_id": "K"}]
    rows.append({"path": str(b), "dam_id": "L"})
    manifest = write_manifest(tmp_path, rows)
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        await run_batch(manifest, _settings(sb, tmp_path))
    lines = read_report(tmp_path / "report.jsonl")
    assert [line["status"] for line in lines] == ["complete", "error", "complete"]
    assert lines[1]["error"]["code"] == "duplicate_key"


async def test_a_resumed_night_meets_each_file_afresh_and_still_finds_the_removed(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    """The identities met are per run: the resumed run reads the manifest from the top
    (here with a row inserted above the others, so every row number moved), refuses only
    the true duplicate, naming its first row as numbered now, and the removed file is
    still found once the resumed sweep completes."""
    lib = {f"K{i}": write_media(tmp_path, f"lib/f{i}.png", 2_000 + i) for i in range(5)}
    manifest = _write(tmp_path, lib)
    report = tmp_path / "report.jsonl"
    async with make_sandbox(SandboxConfig(processing_delay=0.3)) as sb:
        await run_batch(manifest, _settings(sb, tmp_path))
        lib.pop("K4")
        for i in range(3):
            write_media(tmp_path, f"lib/f{i}.png", 2_100 + i, seed=f"edit {i}")
        rows = [{"path": str(p.relative_to(tmp_path)), "dam_id": k} for k, p in lib.items()]
        rows.append({"path": "lib/f0.png", "dam_id": "K0"})  # the same key again
        manifest = write_manifest(tmp_path, rows)
        settings = _settings(sb, tmp_path, upload_workers=1)
        # Cut the night (as a crash would) once one new version is submitted.
        await run_until(settings, manifest, lambda: journaled(report, "submitted") >= 1)
        assert journaled(report, "reported") < 5  # really cut in the middle
        new = write_media(tmp_path, "lib/new.png", 2_400)
        rows.insert(0, {"path": str(new.relative_to(tmp_path)), "dam_id": "N"})
        manifest = write_manifest(tmp_path, rows)
        resumed = await run_batch(manifest, settings)
    lines = sorted(read_report(report), key=lambda line: int(line["row"]))
    assert [line["status"] for line in lines] == ["complete"] * 5 + ["error"]
    assert [line["columns"]["dam_id"] for line in lines[:5]] == ["N", "K0", "K1", "K2", "K3"]
    error = lines[5]["error"]
    assert error["code"] == "duplicate_key" and "row 2" in error["message"]
    assert resumed.sweep is not None and resumed.sweep.removed == ["lib/f4.png"]
    assert _sql(report, "SELECT count(*) FROM history WHERE key = 'key:K4'") == [(0,)]


async def test_a_new_version_outside_its_files_group_is_said_on_its_line_and_counted(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    """Night 1 puts three files in one submission; night 2 changes all three, each sent with
    that submission as its previous one. The sandbox (like the API, which does not say)
    gives all three the first asset's group: one chain holds, two break, and the lines of
    those two say so; the end summary counts them. Carried later, they are not counted."""
    lib = {f"K{i}": write_media(tmp_path, f"lib/f{i}.png", 2_000 + i) for i in range(3)}
    manifest = _write(tmp_path, lib)
    report = tmp_path / "report.jsonl"
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        settings = _settings(sb, tmp_path, batch_size=3, batch_linger=2.0)
        night1 = await run_batch(manifest, settings)
        n1 = _by_key(report)
        assert len({line["submissionId"] for line in n1.values()}) == 1  # one submission
        first = sb.state.submissions[n1["K0"]["submissionId"]].assets[0]
        for i in range(3):
            write_media(tmp_path, f"lib/f{i}.png", 2_100 + i, seed=f"edit {i}")
        night2 = await run_batch(manifest, settings)
        n2 = _by_key(report)
        night3 = await run_batch(manifest, settings)
        n3 = _by_key(report)
    assert night1.sweep is not None and night1.sweep.chains_broken == 0
    held = {k for k, line in n1.items() if line["versionGroupId"] == first.version_group_id}
    assert len(held) == 1
    for key, line in n2.items():
        assert line["status"] == "complete" and line["reusedFrom"] is None
        assert line["versionGroupId"] == first.version_group_id  # what the sandbox does
        codes = [note["code"] for note in line["notes"]]
        if key in held:
            assert codes == []
        else:
            assert codes == ["version_chain_broken"]
            message = line["notes"][0]["message"]
            assert n1[key]["versionGroupId"] in message and first.version_group_id in message
            assert n1[key]["submissionId"] in message
    # All three joined one group, numbered in the order they were created.
    assert sorted(line["versionNumber"] for line in n2.values()) == [2, 3, 4]
    assert night2.sweep is not None and night2.sweep.chains_broken == 2
    assert night2.as_dict()["sweep"]["versionChainsBroken"] == 2
    assert "version chains broken: 2" in night2.render()
    assert all(line["reusedFrom"] is not None for line in n3.values())
    assert night3.sweep is not None and night3.sweep.chains_broken == 0
    assert "version chains broken" not in night3.render()


async def test_refresh_issues_shows_statuses_changed_on_the_platform(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    """``--refresh-issues``: each carried complete row costs one E6 and takes the issues the
    service has now; a refresh the service refuses keeps the reviewed line, with a note.
    Without the option nothing is asked (the line is as reviewed)."""
    lib = {f"K{i}": write_media(tmp_path, f"lib/f{i}.png", 2_000 + 37 * i) for i in range(6)}
    manifest = _write(tmp_path, lib)
    report = tmp_path / "report.jsonl"
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        st = sb.state
        await run_batch(manifest, _settings(sb, tmp_path))
        n1 = _by_key(report)
        found = sorted(k for k, line in n1.items() if line["issues"])
        assert len(found) >= 2, "the test needs two files with findings"
        closed, gone = found[0], found[1]
        _asset(st, n1[closed]["blobPath"]).issues[0]["status"] = "RESOLVED"
        record = st.submissions[n1[gone]["submissionId"]]
        record.assets.remove(_asset(st, n1[gone]["blobPath"]))  # its E6 now answers 404
        reads = st.requests["get_asset"]
        await run_batch(manifest, _settings(sb, tmp_path))
        n2 = _by_key(report)
        reads2 = st.requests["get_asset"]
        refreshing = _settings(sb, tmp_path, refresh_issues=True)
        plan = dry_run(manifest, refreshing, journal=journal_path_for(report))
        assert st.requests["get_asset"] == reads2  # the plan sends nothing
        night3 = await run_batch(manifest, refreshing)
        n3 = _by_key(report)
        reads3 = st.requests["get_asset"]
    assert reads2 == reads and n2[closed]["issues"][0]["status"] == "OPEN"
    assert reads3 - reads2 == len(lib)  # one E6 per carried complete row
    assert plan.as_dict()["sweep"]["issuesRefreshed"] == len(lib)
    assert plan.requests()["E6 asset result"] == len(lib)
    assert "issues refreshed" in plan.render()
    assert night3.sweep is not None and night3.sweep.counts[Decision.CARRIED] == len(lib)
    assert n3[closed]["issues"][0]["status"] == "RESOLVED"
    assert n3[closed]["issues"][1:] == n1[closed]["issues"][1:]
    for key, line in n3.items():
        assert line["reusedFrom"]["sweep"] == n2[key]["reusedFrom"]["sweep"]
        assert line["status"] == "complete" and line["submissionId"] == n1[key]["submissionId"]
        if key == gone:
            assert line["issues"] == n1[key]["issues"]  # as reviewed
            assert [n["code"] for n in line["notes"]] == ["issues_not_refreshed"]
            assert "issuesRefreshedAt" not in line["reusedFrom"]
        else:
            assert line["notes"] == []
            assert datetime.fromisoformat(line["reusedFrom"]["issuesRefreshedAt"])
