"""Answers that do not fit what was sent (hostile or buggy): the rows concerned end as
``bad_response`` errors, every row still has exactly one line, and the run never exits 0
with a row missing. Over the fake service at the HTTP seam, on the fake clock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from batcher.api.testing import FakeMediaMagic, Mutate
from batcher.clock import FakeClock
from batcher.config import PollSettings, Settings
from batcher.pipeline import Transports, run_batch
from batcher.summary import EXIT_SOME_FAILED, RunSummary
from tests.unit.rig import write_pngs

pytestmark = pytest.mark.anyio
ROWS = 4


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        base_url="http://127.0.0.1:9",
        api_key=SecretStr("sk_test_fake"),
        report_path=tmp_path / "r.jsonl",
        batch_size=ROWS,
        batch_linger=30,
        poll=PollSettings(initial=5.0, max_interval=60.0, deadline=3600.0),
    )


def _report(tmp_path: Path) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    return sorted(lines, key=lambda d: int(d["row"]))


async def _run(tmp_path: Path, fake: FakeMediaMagic, clock: FakeClock) -> RunSummary:
    async with clock.autojump():
        return await run_batch(
            write_pngs(tmp_path, [10 + i for i in range(ROWS)]),
            _settings(tmp_path),
            clock=clock,
            transports=Transports(fake, fake.blob),
        )


def _codes(tmp_path: Path) -> list[str]:
    return [
        line["error"]["code"] if line["error"] else line["status"] for line in _report(tmp_path)
    ]


def _same_asset_id_twice(body: dict[str, Any]) -> dict[str, Any]:
    body["assets"][1]["assetId"] = body["assets"][0]["assetId"]
    return body


async def test_two_rows_given_the_same_asset_id_are_bad_responses_not_lost(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=10.0)
    fake.script("create_submission", Mutate(_same_asset_id_twice))
    summary = await _run(tmp_path, fake, clock)
    lines = _report(tmp_path)
    assert [line["row"] for line in lines] == [1, 2, 3, 4]
    assert _codes(tmp_path) == ["bad_response", "bad_response", "complete", "complete"]
    assert "twice" in lines[0]["error"]["message"]
    assert summary.exit_code == EXIT_SOME_FAILED


def _one_asset_short(body: dict[str, Any]) -> dict[str, Any]:
    body["assets"].pop()
    return body


def _empty_asset_id(body: dict[str, Any]) -> dict[str, Any]:
    body["assets"][2]["assetId"] = ""
    return body


@pytest.mark.parametrize(
    ("mutate", "codes"),
    [
        (_one_asset_short, ["bad_response"] * ROWS),
        (_empty_asset_id, ["complete", "complete", "bad_response", "complete"]),
    ],
)
async def test_a_create_answer_that_does_not_fit_the_batch(
    tmp_path: Path, mutate: Any, codes: list[str]
) -> None:
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=10.0)
    fake.script("create_submission", Mutate(mutate))
    summary = await _run(tmp_path, fake, clock)
    assert _codes(tmp_path) == codes
    assert summary.exit_code == EXIT_SOME_FAILED


def _other_submission(body: dict[str, Any]) -> dict[str, Any]:
    body["submissionId"] = "00000000-0000-0000-0000-000000000000"
    return body


def _foreign_asset(body: dict[str, Any]) -> dict[str, Any]:
    body["assets"][0]["assetId"] = "11111111-1111-1111-1111-111111111111"
    return body


def _asset_listed_twice(body: dict[str, Any]) -> dict[str, Any]:
    body["assets"][1] = body["assets"][0]
    return body


def _other_asset(body: dict[str, Any]) -> dict[str, Any]:
    body["assetId"] = "22222222-2222-2222-2222-222222222222"
    return body


@pytest.mark.parametrize(
    ("endpoint", "mutate", "codes"),
    [
        ("get_submission", _other_submission, ["bad_response"] * ROWS),
        # An ID that is not ours concerns no row: each row's own E6 result is checked.
        ("get_submission", _foreign_asset, ["complete"] * ROWS),
        ("get_submission", _asset_listed_twice, ["bad_response"] + ["complete"] * 3),
        ("get_asset", _other_asset, ["bad_response", "complete", "complete", "complete"]),
        ("get_asset", _other_submission, ["bad_response", "complete", "complete", "complete"]),
    ],
)
async def test_a_status_or_result_for_something_else_is_a_bad_response(
    tmp_path: Path, endpoint: str, mutate: Any, codes: list[str]
) -> None:
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=10.0)
    # Every poll answer is mutated (E5), or the first result fetched (E6: rows go in order).
    steps = [Mutate(mutate)] * (50 if endpoint == "get_submission" else 1)
    fake.script(endpoint, *steps)
    summary = await _run(tmp_path, fake, clock)
    assert sorted(_codes(tmp_path)) == sorted(codes)
    assert [line["row"] for line in _report(tmp_path)] == [1, 2, 3, 4]
    assert summary.exit_code == (EXIT_SOME_FAILED if "bad_response" in codes else 0)
