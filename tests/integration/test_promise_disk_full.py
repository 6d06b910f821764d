"""Disk full under the journal or the report: a clear "disk full" naming the path, exit 74,
journal and report consistent, and a later run with room finishes without resubmitting.

Two ways to fill the disk for real: SQLite's ``PRAGMA max_page_count`` (the journal's own
"database or disk is full", always available), and a 256 KiB tmpfs holding report, journal
and log file (needs root / mount rights; skipped otherwise)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from batcher import run_batch
from batcher.errors import DiskFullError
from batcher.pipeline import journal_path_for
from batcher.sandbox import DEFAULT_TEST_KEY, Sandbox, SandboxConfig
from batcher.state.store import JournalStore
from batcher.summary import EXIT_DISK_FULL
from tests.fixtures.sandbox import MakeSandbox
from tests.integration.helpers import fast_settings, read_report
from tests.media import write_manifest, write_media

pytestmark = pytest.mark.anyio

ROWS = 12
# The journal of 12 submitted rows fits in 12 pages of 4 KiB (its tables and their indexes
# take 8 empty); their report lines (with the findings) do not: the journal fills up while
# results are being written.
PAGES = 12


def _manifest(tmp_path: Path) -> Path:
    rows = [{"path": str(write_media(tmp_path, f"m/f{i}.png", 3_000 + i))} for i in range(ROWS)]
    return write_manifest(tmp_path, rows)


def _states(journal: Path) -> dict[str, int]:
    db = sqlite3.connect(journal)
    try:
        return dict(db.execute("SELECT state, count(*) FROM rows GROUP BY state").fetchall())
    except sqlite3.OperationalError:  # polled before the run created its schema
        return {}
    finally:
        db.close()


def _report_lines(report: Path) -> list[dict[str, object]]:
    # Every line whole: a write cut by the full disk was truncated away.
    return [json.loads(text) for text in report.read_text().splitlines()]


def _limit_journal(monkeypatch: pytest.MonkeyPatch, pages: int) -> None:
    connect = JournalStore._connect

    def limited(self: JournalStore) -> sqlite3.Connection:
        db = connect(self)
        db.execute(f"PRAGMA max_page_count = {pages}")
        return db

    monkeypatch.setattr(JournalStore, "_connect", limited)


async def test_a_full_journal_stops_the_run_and_the_next_run_finishes_without_resubmitting(
    make_sandbox: MakeSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = _manifest(tmp_path)
    report = tmp_path / "report.jsonl"
    journal = journal_path_for(report)
    async with make_sandbox(SandboxConfig(processing_delay=0.05)) as sb:
        settings = fast_settings(sb.base_url, tmp_path, batch_size=ROWS, batch_linger=30)
        _limit_journal(monkeypatch, PAGES)
        with pytest.raises(DiskFullError) as info:
            await run_batch(manifest, settings)
        assert "disk full" in info.value.message
        assert str(journal) in info.value.message
        states = _states(journal)
        assert set(states) <= {"submitted", "reported"}  # the failed write left no half-state
        assert states.get("reported", 0) < ROWS
        for line in _report_lines(report):
            assert line["status"] == "complete"

        monkeypatch.undo()  # room again
        summary = await run_batch(manifest, settings)
        creates = sb.state.requests["create_submission"]
    assert summary.complete == ROWS
    assert creates == 1  # polled again, never resubmitted
    assert [line["row"] for line in read_report(report)] == list(range(1, ROWS + 1))


_BOOT = """
import sqlite3, sys
from batcher.state.store import JournalStore
connect = JournalStore._connect
def limited(self):
    db = connect(self)
    db.execute("PRAGMA max_page_count = {pages}")
    return db
JournalStore._connect = limited
from batcher.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _argv(manifest: Path, report: Path, *extra: str) -> list[str]:
    return [
        str(manifest),
        "--report",
        str(report),
        "--batch-size",
        str(ROWS),
        "--batch-linger",
        "30",
        "--poll-interval",
        "0.05",
        "--poll-max-interval",
        "0.2",
        "--quiet",
        *extra,
    ]


def _env(sb: Sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHER_", "MEDIAMAGIC_"))}
    env["MEDIAMAGIC_BASE_URL"] = sb.base_url
    env["MEDIAMAGIC_API_KEY"] = DEFAULT_TEST_KEY
    return env


async def test_the_cli_says_disk_full_and_exits_74_with_no_traceback(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path)
    report = tmp_path / "report.jsonl"
    async with make_sandbox(SandboxConfig(processing_delay=0.05)) as sb:
        boot = [sys.executable, "-c", _BOOT.format(pages=PAGES)]
        run = await anyio.run_process([*boot, *_argv(manifest, report)], env=_env(sb), check=False)
    stderr = run.stderr.decode()
    assert run.returncode == EXIT_DISK_FULL, stderr
    assert "Error: disk full: cannot write the journal" in stderr
    assert str(journal_path_for(report)) in stderr
    assert "Traceback" not in stderr


@contextlib.contextmanager
def _tmpfs(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path) -> Path:
    """Write a ballast file until the filesystem says ENOSPC."""
    ballast = folder / "ballast"
    with ballast.open("wb", buffering=0) as fh:
        chunk = b"\0" * 4096
        while True:
            try:
                fh.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                return ballast


async def test_a_full_tmpfs_under_report_journal_and_log_file(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path)
    with _tmpfs(tmp_path / "small", "1m") as small:
        report = small / "report.jsonl"
        journal = journal_path_for(report)
        argv = [sys.executable, "-m", "batcher", *_argv(manifest, report)]
        argv += ["--log-file", str(small / "run.log")]
        async with make_sandbox(SandboxConfig(processing_delay=1.0)) as sb:
            async with await anyio.open_process(argv, env=_env(sb)) as proc:
                with anyio.fail_after(30):
                    # Fill the disk once every row is submitted: results have nowhere to go.
                    while not journal.exists() or _states(journal).get("submitted") != ROWS:  # noqa: ASYNC110
                        await anyio.sleep(0.01)
                ballast = _fill(small)
                with anyio.fail_after(30):
                    code = await proc.wait()
                assert proc.stderr is not None
                stderr = (await proc.stderr.receive()).decode()
            assert code == EXIT_DISK_FULL, stderr
            assert "Error: disk full: cannot write the " in stderr
            assert str(small) in stderr
            assert "Traceback" not in stderr
            assert set(_states(journal)) <= {"submitted", "reported"}
            _report_lines(report)  # whole lines only

            ballast.unlink()  # room again
            final = await anyio.run_process(argv, env=_env(sb), check=False)
            creates = sb.state.requests["create_submission"]
        assert final.returncode == 0, final.stderr.decode()
        assert creates == 1
        rows = sorted(int(str(line["row"])) for line in _report_lines(report))
        assert rows == list(range(1, ROWS + 1))


def test_a_full_disk_under_summary_json_or_log_file_is_exit_74(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from batcher.api.testing import FakeMediaMagic
    from batcher.cli import main as cli
    from batcher.clock import FakeClock
    from tests.integration.test_promise_secrets import _over

    manifest = _manifest(tmp_path)
    # /dev/full takes the open and refuses every write with ENOSPC, as a full disk does.
    dry = cli.main([str(manifest), "--dry-run", "--summary-json", "/dev/full"])
    assert dry == EXIT_DISK_FULL
    assert "Error: disk full: cannot write the summary /dev/full" in capsys.readouterr().err

    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=10.0)
    monkeypatch.setenv("MEDIAMAGIC_API_KEY", "sk_test_fake")
    monkeypatch.setattr(cli, "run_batch", _over(fake, clock))
    report = tmp_path / "r.jsonl"
    code = cli.main([str(manifest), "--report", str(report), "--log-file", "/dev/full"])
    err = capsys.readouterr().err
    assert code == EXIT_DISK_FULL, err
    assert "Error: disk full: cannot write the log file /dev/full" in err
    assert "Traceback" not in err and "Logging error" not in err
