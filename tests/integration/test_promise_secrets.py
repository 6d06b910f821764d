"""A service that echoes the key (of any shape) and sends terminal escapes: the real CLI
prints neither, and neither reaches the report, the journal's bytes or --log-file.

The CLI runs in-process over the fake service at the HTTP seam (``run_batch`` is given the
fake's transports and clock); everything else is the real code path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batcher.api.testing import Answer, FakeMediaMagic
from batcher.cli import main as cli
from batcher.clock import FakeClock
from batcher.pipeline import Transports, journal_path_for
from batcher.pipeline import run_batch as real_run_batch
from batcher.summary import EXIT_FATAL_API

KEY = "mmkey-LIVE-7f3a9c2e5b1d"  # no sk_ prefix
TAIL = "7f3a9c2e5b1d"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HOSTILE = f"key {KEY} refused \x1b[2J\x1b[31mboom\x1b[0m; also sk_live_abc.def.SECRETTAIL"


def _manifest(tmp_path: Path, n: int = 4) -> Path:
    rows = ["path"]
    for i in range(n):
        (tmp_path / f"f{i}.png").write_bytes(PNG + bytes([i]) * (10 + i))
        rows.append(f"f{i}.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def _over(fake: FakeMediaMagic, clock: FakeClock) -> Any:
    async def run_batch(manifest: Path, settings: Any, **kw: Any) -> Any:
        try:
            async with clock.autojump():
                return await real_run_batch(
                    manifest, settings, clock=clock, transports=Transports(fake, fake.blob), **kw
                )
        except BaseExceptionGroup as group:  # autojump's task group: hand on what run_batch raised
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise

    return run_batch


def _bytes_of(*paths: Path) -> bytes:
    return b"".join(p.read_bytes() for p in paths if p.exists())


def _run_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeMediaMagic, clock: FakeClock
) -> int:
    monkeypatch.setenv("MEDIAMAGIC_API_KEY", KEY)
    monkeypatch.setattr(cli, "run_batch", _over(fake, clock))
    argv = [
        str(_manifest(tmp_path)),
        "--report",
        str(tmp_path / "r.jsonl"),
        "--log-file",
        str(tmp_path / "run.log"),
        "--verbose",
        "--batch-size",
        "2",
        "--retries",
        "2",
    ]
    return cli.main(argv)


def test_an_echoed_key_and_escapes_reach_no_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=10.0)
    # The first batch is refused with the hostile text (final lines: report and journal);
    # the first poll of the second answers 500 with it (retried: the log's retry event).
    fake.script("create_submission", *[Answer(422, {"detail": HOSTILE})] * 3)  # batch, halves
    fake.script("get_submission", Answer(500, {"detail": HOSTILE}))
    code = _run_cli(tmp_path, monkeypatch, fake, clock)
    err = capsys.readouterr().err
    report = tmp_path / "r.jsonl"
    journal = journal_path_for(report)
    files = {
        "stderr": err.encode(),
        "report": _bytes_of(report),
        "journal": _bytes_of(journal, Path(f"{journal}-wal")),
        "log": _bytes_of(tmp_path / "run.log"),
    }
    assert code == 1, err
    assert fake.keys_seen == {KEY}
    for where, data in files.items():
        assert TAIL.encode() not in data, where
        assert b"SECRETTAIL" not in data, where
        assert b"\x1b[" not in data and b"\\u001b" not in data, where
    # The hostile text did arrive everywhere, redacted: the test cannot pass vacuously.
    for where in ("stderr", "report", "journal"):
        assert b"refused boom" in files[where], where
        assert b"REDACTED" in files[where], where
    retries = [json.loads(x) for x in files["log"].splitlines() if b'"retry"' in x]
    assert retries and all("REDACTED" in r["detail"] for r in retries)


def test_a_401_echoing_the_key_prints_it_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=10.0)
    fake.script("direct_upload", *[Answer(401, {"detail": HOSTILE})] * 4)
    code = _run_cli(tmp_path, monkeypatch, fake, clock)
    err = capsys.readouterr().err
    assert code == EXIT_FATAL_API, err
    assert "Error: API key refused: key REDACTED refused boom" in err
    assert TAIL not in err and "SECRETTAIL" not in err and "\x1b" not in err
    assert TAIL.encode() not in _bytes_of(tmp_path / "run.log", tmp_path / "r.jsonl")
