"""The benchmark harness at tiny sizes, so it cannot rot: every scenario runs a few of its
cases once (the sandbox and Azurite as real processes, peers only where installed) and the
result must carry real, positive figures. No time thresholds: speed is not tested here."""

from __future__ import annotations

import functools
import os
from typing import Any

import pytest

from benchmarks import peers, report
from benchmarks.run import run_scenario
from benchmarks.scenarios import Params
from benchmarks.services import AZURITE_BIN

AZURITE = AZURITE_BIN.exists() and os.environ.get("BATCHER_SKIP_AZURITE") != "1"

# A few cases per scenario keep this to seconds; peers join when their binary is installed.
CASES: dict[str, list[str]] = {
    "large": ["batcher blob uploader", "batcher CLI", "aiohttp bare loop, no MD5", "rclone"],
    "small": ["batcher CLI direct", "aiohttp bare loop direct", "blob uploader", "AzCopy"],
    "pipeline": ["end to end", "alone"],
    "memory": ["issue 3", "rows"],
}
NEEDS = {"rclone": peers.rclone_bin, "AzCopy": peers.azcopy_bin}


@functools.cache
def _run(scenario: str) -> dict[str, Any]:
    targets = ("azurite", "sandbox") if AZURITE else ("sandbox",)
    return run_scenario(scenario, Params.tiny(), 1, only=CASES[scenario], targets=targets,
                        echo=False)  # fmt: skip


def _expected_cases(scenario: str) -> set[tuple[str, bool]]:
    """(case name fragment, should have run) per selected case."""
    out = set()
    for name in CASES[scenario]:
        present = next((find for peer, find in NEEDS.items() if peer in name), None)
        out.add((name, present is None or present() is not None))
    return out


@pytest.mark.parametrize("scenario", list(CASES))
def test_scenario_harness_produces_positive_figures(scenario: str) -> None:
    result = _run(scenario)
    cases = result["cases"]
    assert cases, f"{scenario}: no case selected"
    for case in cases:
        assert not str(case["skipped"] or "").startswith("failed"), case["skipped"]
        summary = case["summary"]
        if case["skipped"]:
            assert "not installed" in case["skipped"]
            assert summary == {}
            continue
        assert summary["runs"] == 1
        assert summary["files"] > 0
        assert summary["wall_s"]["median"] > 0
        assert summary["files_per_s"]["median"] > 0
        assert summary["client_cpu_s"]["median"] > 0
        assert summary["client_peak_rss_mb"]["median"] > 1
        server = f"{case['target']}_cpu_s"
        assert server in summary, f"{case['case']}: no {server}"
        if summary["bytes"]:
            assert summary["mib_per_s"]["median"] > 0
            assert summary["cpu_s_per_gib"]["median"] > 0
            assert summary["requests_per_asset"], f"{case['case']}: requests not counted"
    for fragment, should_run in _expected_cases(scenario):
        matching = [c for c in cases if fragment.lower() in c["case"].lower()]
        if not AZURITE and not matching:
            continue
        assert matching, f"{scenario}: case {fragment!r} missing"
        assert all(bool(c["summary"]) == should_run for c in matching), fragment
    table = report.scenario_md({**result, "command": "test", "date": "now"})
    assert f"### {scenario}" in table
    assert table.count("\n| ") >= len(cases) + 1


def test_pipeline_reports_polls_and_stage_ratio() -> None:
    result = _run("pipeline")
    e2e = next(c for c in result["cases"] if "end to end" in c["case"])
    extra = e2e["summary"]["extra"]
    assert extra["submissions"]["median"] >= 1
    assert extra["polls_per_submission"]["median"] >= 1
    ratio = next(r for r in result["ratios"] if r["peer"] == "upload stage alone")
    assert ratio["wall_ratio"] > 0


@pytest.mark.skipif(not AZURITE, reason="needs Azurite (npm ci)")
def test_memory_budget_is_held_and_rows_are_counted() -> None:
    result = _run("memory")
    blob = next(c for c in result["cases"] if "blob uploader" in c["case"])
    extra = blob["summary"]["extra"]
    assert extra["budget_peak_mb"]["median"] <= extra["budget_mib"]["median"]
    rows = [c for c in result["cases"] if "rows" in c["case"]]
    assert [c["summary"]["files"] for c in rows] == list(Params.tiny().rows)
