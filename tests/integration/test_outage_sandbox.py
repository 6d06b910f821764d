"""Outages over real sockets: the sandbox goes away mid-run and comes back on the same port
(its state on disk), and a host that never answers stops the run cleanly."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import anyio
import pytest

from batcher import run_batch
from batcher.clock import FakeClock
from batcher.errors import UsageError
from batcher.sandbox import SandboxConfig, running_sandbox
from tests.integration.helpers import fast_settings, read_report
from tests.media import write_manifest, write_media

pytestmark = pytest.mark.anyio


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _manifest(tmp_path: Path, count: int) -> Path:
    rows = []
    for i in range(count):
        size = 200_000 if i % 4 == 0 else 3_000 + i  # some presigned (blocks), most direct
        write_media(tmp_path, f"media/f{i}.png", size)
        rows.append({"path": f"media/f{i}.png"})
    return write_manifest(tmp_path, rows)


async def test_the_sandbox_stopped_mid_run_and_restarted_fails_no_row(tmp_path: Path) -> None:
    port = _free_port()
    manifest = _manifest(tmp_path, 16)
    config = SandboxConfig(processing_delay=0.3, state_dir=tmp_path / "sandbox-state")
    settings = fast_settings(
        f"http://127.0.0.1:{port}", tmp_path, direct_max_bytes=100_000, upload_workers=2
    )
    down_at: float | None = None
    async with anyio.create_task_group() as tg:
        async with running_sandbox(config, port=port) as sb:
            done = anyio.Event()

            async def run() -> None:
                await run_batch(manifest, settings)
                done.set()

            tg.start_soon(run)
            # Mid-run, stop the service (its state offers no event to wait for: poll it).
            while sb.state.requests.get("direct_upload", 0) < 4:  # noqa: ASYNC110
                await anyio.sleep(0.01)
            down_at = time.monotonic()
        await anyio.sleep(2.5)  # longer than the retries of one request would last
        async with running_sandbox(config, port=port) as sb:
            await done.wait()
    assert down_at is not None
    lines = read_report(settings.report_path)  # type: ignore[arg-type]
    assert len(lines) == 16
    assert [line["status"] for line in lines] == ["complete"] * 16, [
        line["error"] for line in lines if line["status"] != "complete"
    ]


async def test_a_host_that_never_answered_is_a_wrong_url_not_an_outage(tmp_path: Path) -> None:
    """The breaker waits only for a host that has answered once: one that never did (the
    pre-run probe) is a wrong address, and the run fails in seconds naming it, uploading
    nothing (an outage after the first answer is waited for: the tests above)."""
    clock = FakeClock()
    manifest = _manifest(tmp_path, 5)
    url = f"http://127.0.0.1:{_free_port()}"
    settings = fast_settings(url, tmp_path, max_outage=120.0)
    async with clock.autojump():
        with pytest.raises(UsageError) as info:
            await run_batch(manifest, settings, clock=clock)
    assert url in info.value.message and "--base-url" in info.value.message
    assert clock.now() - 1000.0 < 15  # seconds, not the 120 s --max-outage
    lines = read_report(settings.report_path)  # type: ignore[arg-type]
    assert [line["error"]["code"] for line in lines] == ["aborted"] * 5
