"""Rate limits and a wrong base URL, over real loopback HTTP: the sandbox's token buckets
and the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batcher import run_batch
from batcher.sandbox import RateLimit, SandboxConfig
from tests.fixtures.sandbox import MakeSandbox
from tests.integration.helpers import fast_settings, read_report
from tests.media import write_manifest, write_media

pytestmark = pytest.mark.anyio


async def test_a_binding_limit_on_every_bucket_loses_no_row_and_is_never_jumped(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    names = [f"m/f{i}.png" for i in range(30)]
    for name in names:
        write_media(tmp_path, name, 2_000)
    manifest = write_manifest(tmp_path, [{"path": n} for n in names])
    limits = {
        b: RateLimit(rate=10, burst=2, retry_after_seconds=1)
        for b in ("upload", "submission_write", "submission_read")
    }
    config = SandboxConfig(processing_delay=0.05, rate_limits=limits)
    async with make_sandbox(config) as sb:
        settings = fast_settings(sb.base_url, tmp_path, upload_workers=16, batch_size=10)
        summary = await run_batch(manifest, settings)
        violations = list(sb.state.rate_limit_violations)
        limited = sum(sb.state.rate_limited.values())
    lines = read_report(settings.report_path)  # type: ignore[arg-type]
    assert [line["status"] for line in lines] == ["complete"] * 30
    assert violations == []
    assert limited > 0  # the limit did bind
    assert summary.pacing is not None and summary.pacing["upload"]["rate"] is not None


def test_a_wrong_base_url_fails_in_seconds_naming_it(tmp_path: Path) -> None:
    names = [f"m/f{i}.png" for i in range(10)]
    for name in names:
        write_media(tmp_path, name, 2_000)
    manifest = write_manifest(tmp_path, [{"path": n} for n in names])
    env = {**os.environ, "MEDIAMAGIC_API_KEY": "sk_test_wrong_url"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "batcher", str(manifest), "--base-url", "http://127.0.0.1:9",
         "--report", str(tmp_path / "r.jsonl"), "-q"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert time.monotonic() - started < 20  # was 193 s
    assert done.returncode == 2, done.stderr
    assert "http://127.0.0.1:9" in done.stderr
    assert "--base-url" in done.stderr
    assert "sk_test_wrong_url" not in done.stderr
    lines = read_report(tmp_path / "r.jsonl")
    assert len(lines) == 10 and {line["error"]["code"] for line in lines} == {"aborted"}
