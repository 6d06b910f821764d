"""The real CLI with webhooks, as a child process against a sandbox in this process: a run
killed with SIGKILL leaves its subscription behind, the re-run sweeps it, makes its own and
deletes it; no secret reaches any output or file."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import cast

import anyio
import pytest
import trustme

from batcher.sandbox import DEFAULT_TEST_KEY, SandboxConfig, running_sandbox
from tests.fixtures.sandbox import API, http_for
from tests.integration.helpers import read_report
from tests.integration.test_webhooks import HOOK_PATH, Tls, free_port, make_tls, media, wait_for

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tls(tmp_path: Path) -> Tls:
    return make_tls(trustme.CA(), tmp_path)


def start_cli(
    tmp_path: Path, base_url: str, tls: Tls, port: int, tag: str, *extra: str
) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "MEDIAMAGIC_API_KEY": DEFAULT_TEST_KEY,
        "PYTHONPATH": str(ROOT),
        "BATCHER_WEBHOOK_LISTEN": f"127.0.0.1:{port}",  # the env form of an option, too
    }
    argv = [
        sys.executable, "-m", "batcher", str(tmp_path / "manifest.csv"),
        "--base-url", base_url,
        "--report", str(tmp_path / "report.jsonl"),
        "--webhook-url", f"https://127.0.0.1:{port}{HOOK_PATH}",
        "--webhook-tls-cert", str(tls.cert),
        "--webhook-tls-key", str(tls.key),
        "--poll-interval", "0.2",
        "--batch-linger", "0.05",
        "--verbose",
        "--log-file", str(tmp_path / f"{tag}.log.jsonl"),
        "--summary-json", str(tmp_path / f"{tag}.summary.json"),
        *extra,
    ]  # fmt: skip
    out = (tmp_path / f"{tag}.stdout").open("wb")
    err = (tmp_path / f"{tag}.stderr").open("wb")
    with out, err:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=err, cwd=tmp_path)


async def wait_exit(proc: subprocess.Popen[bytes], seconds: float = 60) -> int:
    with anyio.fail_after(seconds):
        while True:
            if (code := proc.poll()) is not None:
                return code
            await anyio.sleep(0.05)


async def test_sigkill_leaves_a_stale_subscription_the_rerun_removes(
    tls: Tls, tmp_path: Path
) -> None:
    media(tmp_path, 3)
    port = free_port()
    skew = [0.0]  # the sandbox's clock, moved on while no batcher runs

    def clock() -> float:
        return time.time() + skew[0]

    secrets: list[str] = []
    config = SandboxConfig(processing_delay=0.3, webhook_retry_backoff_seconds=0.05)
    async with (
        running_sandbox(config, clock=clock, webhook_ssl_context=tls.client_context()) as sb,
        http_for(sb) as http,
    ):
        first = start_cli(tmp_path, sb.base_url, tls, port, "first", "--simulation-delay", "30")
        journal = tmp_path / "report.jsonl.journal.sqlite"
        try:
            # Killed once its submission is journaled (a kill between E4's answer and the
            # journal is another test's subject: the row then cannot be confirmed).
            await wait_for(lambda: sb.state.webhook_subscriptions and submitted(journal, 3), 30)
        finally:
            first.send_signal(signal.SIGKILL)
        assert await wait_exit(first) == -signal.SIGKILL
        [stale] = sb.state.webhook_subscriptions.values()
        secrets.append(stale.secret)
        assert stale.description is not None and stale.description.startswith("batcher run ")
        assert set(stale.event_types) == {"asset.processing.completed", "asset.processing.failed"}
        other = await http.request(
            "POST",
            f"{API}/webhooks/subscriptions",
            json={
                "endpointUrl": f"https://127.0.0.1:{port}/someone-else",
                "eventTypes": ["asset.processing.completed"],
                "description": "not batcher's",
            },
        )
        assert other.status == 201
        other_id = other.json()["id"]
        skew[0] = 40.0  # the killed run's submission has finished meanwhile

        second = start_cli(tmp_path, sb.base_url, tls, port, "second")

        def new_one() -> bool:
            for sub in sb.state.webhook_subscriptions.values():
                if sub.id not in (stale.id, other_id) and sub.secret not in secrets:
                    secrets.append(sub.secret)
            return len(secrets) == 2

        await wait_for(new_one, 30)
        assert stale.id not in sb.state.webhook_subscriptions  # swept before the new one
        code = await wait_exit(second)
        state = sb.state
    assert code == 0, (tmp_path / "second.stderr").read_text()
    assert list(state.webhook_subscriptions) == [other_id]  # ours deleted, theirs kept
    assert state.requests["create_subscription"] == 3  # two runs and the stranger
    assert state.requests["delete_subscription"] == 2  # the stale one and the re-run's own
    lines = read_report(tmp_path / "report.jsonl")
    assert [line["status"] for line in lines] == ["complete"] * 3

    # The secrets: in no output, report, journal, log or summary, nor in argv.
    argv = cast(list[str], first.args) + cast(list[str], second.args)
    assert_nowhere(tmp_path, secrets, argv)
    log = (tmp_path / "second.log.jsonl").read_text()
    assert "webhook subscription deleted" in log
    assert "stale webhook subscription deleted" in log


async def test_sigterm_deletes_the_subscription_before_exiting(tls: Tls, tmp_path: Path) -> None:
    media(tmp_path, 2)
    config = SandboxConfig(processing_delay=0.3)
    async with running_sandbox(config, webhook_ssl_context=tls.client_context()) as sb:
        run = start_cli(tmp_path, sb.base_url, tls, free_port(), "run", "--simulation-delay", "30")
        try:
            await wait_for(lambda: sb.state.webhook_subscriptions and sb.state.submissions, 30)
        finally:
            run.send_signal(signal.SIGTERM)
        code = await wait_exit(run)
        state = sb.state
    assert code == 130, (tmp_path / "run.stderr").read_text()
    assert state.webhook_subscriptions == {}
    assert state.requests["delete_subscription"] == 1


def submitted(journal: Path, rows: int) -> bool:
    if not journal.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{journal}?mode=ro", uri=True)) as db:
            (n,) = db.execute("SELECT count(*) FROM rows WHERE state = 'submitted'").fetchone()
    except sqlite3.Error:  # not created yet, or busy
        return False
    return int(n) == rows


def assert_nowhere(folder: Path, secrets: list[str], argv: list[str]) -> None:
    files = [p for p in folder.rglob("*") if p.is_file() and p.suffix not in (".pem", ".key")]
    assert any(p.name.endswith(".journal.sqlite") for p in files)
    assert any(p.name.endswith(".log.jsonl") for p in files)
    assert any(p.name.endswith(".stderr") for p in files)
    for secret in secrets:
        body = secret.removeprefix("whsec_")  # with or without its prefix
        assert not any(body in str(arg) for arg in argv)
        for path in files:
            assert body.encode() not in path.read_bytes(), path
