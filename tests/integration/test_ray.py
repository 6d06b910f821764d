"""batcher ray on a real local Ray cluster (started and stopped here), against the sandbox in
this process (it must outlive the shards), over loopback."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from batcher import run_batch
from batcher.cli.main import main
from batcher.sandbox import RateLimit, SandboxConfig
from batcher.scale.shard import Shard
from tests.fixtures.sandbox import MakeSandbox
from tests.integration.helpers import fast_settings, read_report
from tests.media import write_manifest, write_media

ray = pytest.importorskip("ray", reason="Ray cannot be installed here (pip install 'batcher[ray]')")

from batcher.scale.ray_run import RayRun, shard_pid_file, shard_report  # noqa: E402


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    # One small cluster for the module: starting one takes seconds and the machine is small.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def _manifest(tmp_path: Path, n: int) -> Path:
    rows = [{"path": str(write_media(tmp_path, f"m/f{i:02}.png", 2_000 + i))} for i in range(n)]
    return write_manifest(tmp_path, rows)


def _outcome(line: dict[str, Any]) -> tuple[Any, ...]:
    error = line["error"]["code"] if line["error"] else None
    return (line["row"], line["path"], line["status"], error, json.dumps(line["issues"]))


def _ray_run(manifest: Path, settings: Any, key: Path, state: Path, shards: int) -> RayRun:
    return RayRun(
        manifest=manifest,
        settings=settings.model_copy(update={"api_key": None}),
        key_file=key,
        shards=shards,
        state=state,
    )


@pytest.mark.anyio
async def test_sharded_run_equals_one_process_and_sends_nothing_early(
    cluster: None, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path, 12)
    key = tmp_path / "key"
    key.write_text("sk_test_shards\n")
    limits = {"upload": RateLimit(rate=6.0, burst=2)}
    config = SandboxConfig(processing_delay=0.05, rate_limits=limits, retry_after_seconds=1)
    async with make_sandbox(config) as sb:
        # The one-process run under its own key, so its bucket is not the shards' one.
        single = fast_settings(
            sb.base_url, tmp_path, report_path=tmp_path / "single.jsonl", upload_workers=4
        )
        await run_batch(manifest, single)
        single_violations = len(sb.state.rate_limit_violations)
        throttled_before = sb.state.rate_limited["upload"]
        settings = fast_settings(
            sb.base_url, tmp_path, report_path=tmp_path / "merged.jsonl", upload_workers=4
        )
        summary = await _ray_run(manifest, settings, key, tmp_path / "state", 3).run()
        state = sb.state
    assert single_violations == 0
    assert state.rate_limited["upload"] > throttled_before  # the shards did meet 429s
    assert state.rate_limit_violations == []  # and none came back inside a Retry-After
    assert summary.rows == summary.complete == 12
    assert summary.exit_code == 0
    assert sum(summary.throttled.values()) == state.rate_limited["upload"] - throttled_before
    merged = read_report(tmp_path / "merged.jsonl")
    assert [_outcome(x) for x in merged] == [
        _outcome(x) for x in read_report(tmp_path / "single.jsonl")
    ]
    raw = (tmp_path / "merged.jsonl").read_text().splitlines()
    assert [json.loads(x)["row"] for x in raw] == list(range(1, 13))  # in row order


@pytest.mark.anyio
async def test_a_killed_shard_worker_is_rerun_and_resumes(
    cluster: None, make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path, 9)
    key = tmp_path / "key"
    key.write_text("sk_test_kill\n")
    state_dir = tmp_path / "state"
    victim = Shard(index=0, count=2)
    pid_file = shard_pid_file(state_dir, victim)
    killed: list[int] = []
    async with make_sandbox(SandboxConfig(processing_delay=1.5)) as sb:
        settings = fast_settings(
            sb.base_url, tmp_path, report_path=tmp_path / "merged.jsonl", batch_size=2
        )
        run = _ray_run(manifest, settings, key, state_dir, 2)

        async def kill_mid_run() -> None:
            # Mid-run: the shard's worker is up and its first submission is being processed.
            with anyio.fail_after(60):
                # Polling state another process changes: no event to wait on.
                while not (pid_file.exists() and sb.state.created_submissions >= 2):  # noqa: ASYNC110
                    await anyio.sleep(0.05)
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

        async with anyio.create_task_group() as tg:
            tg.start_soon(kill_mid_run)
            summary = await run.run()
        hashes = dict(sb.state.submitted_content_hashes)
    assert killed
    assert int(pid_file.read_text()) != killed[0]  # Ray ran the shard again, elsewhere
    lines = read_report(tmp_path / "merged.jsonl")
    assert [x["row"] for x in lines] == list(range(1, 10))  # every row once
    assert all(x["status"] == "complete" for x in lines), lines
    assert summary.complete == 9
    # A resumed shard polls what it had submitted; only a create in flight at the kill (the
    # documented ambiguous case) may be sent twice, and then only once more.
    assert max(hashes.values()) <= 2
    assert sum(n - 1 for n in hashes.values()) <= settings.batch_size
    assert shard_report(state_dir, victim).exists()


def test_ray_needs_a_shard_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = _manifest(tmp_path, 1)
    assert main(["ray", str(manifest)]) == 2
    assert "needs --shards N" in capsys.readouterr().err
    assert main(["ray", str(manifest), "--shards", "2", "--shard", "0/2"]) == 2
    assert "drop --shard" in capsys.readouterr().err
