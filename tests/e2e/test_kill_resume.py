"""The real CLI killed (SIGKILL) or interrupted (SIGINT) mid-run, then run again to the end.

The sandbox runs in the test's event loop so its records (submissions, bytes received) can be
checked across the CLI's deaths.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from batcher.sandbox import DEFAULT_TEST_KEY, FaultSpec, Sandbox, SandboxConfig, SandboxState
from tests.fixtures.sandbox import MakeSandbox
from tests.media import write_manifest, write_media

pytestmark = pytest.mark.anyio

BIG = 3_500_000
BLOCK = 1024 * 1024


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    rows = [{"path": str(write_media(tmp_path, f"m/f{i}.png", 3_000 + i))} for i in range(10)]
    rows += [{"path": str(write_media(tmp_path, f"m/big{i}.mp4", BIG))} for i in range(2)]
    # Fails once and is retried (E9): its line comes a processing delay after the others,
    # so a kill "once results are being written" always lands mid-run.
    rows.append({"path": str(write_media(tmp_path, "m/flaky.txt", 400, marker=b"MM-FLAKY "))})
    return write_manifest(tmp_path, rows), tmp_path / "report.jsonl"


def _argv(manifest: Path, report: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "batcher",
        str(manifest),
        "--report",
        str(report),
        "--block-size",
        "1",
        "--direct-max-bytes",
        "1000000",
        "--block-concurrency",
        "2",
        "--upload-workers",
        "2",
        "--batch-size",
        "3",
        "--batch-linger",
        "0.05",
        "--poll-interval",
        "0.05",
        "--poll-max-interval",
        "0.2",
    ]


def _env(sb: Sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHER_", "MEDIAMAGIC_"))}
    env["MEDIAMAGIC_BASE_URL"] = sb.base_url
    env["MEDIAMAGIC_API_KEY"] = DEFAULT_TEST_KEY
    return env


def _lines(report: Path) -> list[dict[str, object]]:
    if not report.exists():
        return []
    out = []
    for text in report.read_text().splitlines():
        with contextlib.suppress(ValueError):  # a line cut by SIGKILL: rewritten next run
            out.append(json.loads(text))
    return out


async def _run_and_stop(
    argv: list[str], env: dict[str, str], when: Callable[[], bool], sig: signal.Signals
) -> int | None:
    async with await anyio.open_process(argv, env=env) as proc:
        with anyio.move_on_after(30):
            while proc.returncode is None and not when():  # noqa: ASYNC110 (polling a predicate)
                await anyio.sleep(0.01)
        if proc.returncode is None:
            proc.send_signal(sig)
        with anyio.fail_after(30):
            return await proc.wait()


async def test_sigkill_at_several_points_loses_nothing_and_sends_nothing_twice(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest, report = _setup(tmp_path)
    async with make_sandbox(SandboxConfig(processing_delay=0.4)) as sb:
        st: SandboxState = sb.state
        argv, env = _argv(manifest, report), _env(sb)
        codes: list[int | None] = []
        blocks0 = st.requests["blob_put_block"]
        # 1: in the middle of the large files' blocks
        codes.append(
            await _run_and_stop(
                argv, env, lambda: st.requests["blob_put_block"] >= blocks0 + 3, signal.SIGKILL
            )
        )
        # 2: right after a submission was created
        created0 = st.created_submissions
        codes.append(
            await _run_and_stop(
                argv, env, lambda: st.created_submissions > created0, signal.SIGKILL
            )
        )
        # 3: once results are being written
        lines0 = len(_lines(report))
        codes.append(
            await _run_and_stop(argv, env, lambda: len(_lines(report)) > lines0, signal.SIGKILL)
        )
        final = await anyio.run_process(argv, env=env, check=False)
        assert final.returncode in (0, 1), final.stderr.decode()
        received = st.blob_bytes_received
        twice = sum(n - 1 for n in st.submitted_content_hashes.values())

    assert codes == [-signal.SIGKILL] * 3  # each run really died mid-way
    kills = len(codes)
    lines = _lines(report)
    assert sorted(int(str(line["row"])) for line in lines) == list(range(1, 14))  # once each
    outcomes = {
        line["status"] if line["error"] is None else line["error"]["code"]  # type: ignore[index]
        for line in lines
    }
    # A kill with a create in flight makes it ambiguous: its rows are resubmitted under fresh
    # names, and a file is submitted twice only when its line says so.
    assert outcomes <= {"complete", "submission_unconfirmed"}
    resubmitted = [line for line in lines if line.get("notes")]
    assert twice == len(resubmitted)
    small = sum(3_000 + i for i in range(10)) + 400
    # Bytes re-sent are bounded by what was in flight at each kill.
    in_flight = kills * 2 * 2 * (BLOCK + 1_000_000)
    again = sum(int(str(line["bytes"])) for line in resubmitted)  # sent once more, on purpose
    assert small + 2 * BIG <= received <= small + 2 * BIG + in_flight + again


async def test_sigint_stops_gracefully_with_exit_130_and_the_next_run_resumes(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest, report = _setup(tmp_path)
    async with make_sandbox(SandboxConfig(processing_delay=0.5)) as sb:
        st = sb.state
        argv, env = _argv(manifest, report), _env(sb)
        code = await _run_and_stop(argv, env, lambda: st.created_submissions >= 1, signal.SIGINT)
        interrupted = _lines(report)
        created = st.created_submissions
        final = await anyio.run_process(argv, env=env, check=False)
        duplicates = st.duplicate_content_hashes()
    assert code == 130
    assert sorted(int(str(line["row"])) for line in interrupted) == list(range(1, 14))
    assert any(
        line["error"] and line["error"]["code"] == "interrupted"  # type: ignore[index]
        for line in interrupted
    )
    assert final.returncode == 0, final.stderr.decode()
    lines = _lines(report)
    assert sorted(int(str(line["row"])) for line in lines) == list(range(1, 14))
    assert all(line["status"] == "complete" for line in lines)
    assert duplicates == []
    assert created >= 1


async def test_sigterm_stops_like_ctrl_c(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    manifest, report = _setup(tmp_path)
    async with make_sandbox(SandboxConfig(processing_delay=0.5)) as sb:
        st = sb.state
        argv, env = _argv(manifest, report), _env(sb)
        code = await _run_and_stop(argv, env, lambda: st.created_submissions >= 1, signal.SIGTERM)
    assert code == 130
    assert sorted(int(str(line["row"])) for line in _lines(report)) == list(range(1, 14))


async def test_a_second_ctrl_c_stops_at_once_despite_a_long_grace(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest, report = _setup(tmp_path)
    # Every status poll hangs for 30 s: a graceful stop would wait out the 60 s grace.
    faults = {"get_submission": FaultSpec(latency_seconds=30)}
    async with make_sandbox(SandboxConfig(processing_delay=0.1, faults=faults)) as sb:
        st = sb.state
        argv = [*_argv(manifest, report), "--shutdown-grace", "60", "--request-timeout", "90"]
        async with await anyio.open_process(argv, env=_env(sb)) as proc:
            with anyio.fail_after(30):
                while st.requests["get_submission"] < 1:  # noqa: ASYNC110
                    await anyio.sleep(0.01)
            proc.send_signal(signal.SIGINT)
            await anyio.sleep(0.3)
            assert proc.returncode is None  # still draining within its grace
            proc.send_signal(signal.SIGINT)
            with anyio.fail_after(10):  # far less than the grace or the hanging poll
                code = await proc.wait()
    assert code == 130
    assert sorted(int(str(line["row"])) for line in _lines(report)) == list(range(1, 14))
