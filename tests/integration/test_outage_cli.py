"""The CLI when the API host never answers: a clean stop with exit 75 and a message saying
to re-run; a progress line that names the host and the wait."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from batcher.cli.main import main
from batcher.errors import ServiceUnreachable
from batcher.progress.model import Snapshot, status_line
from batcher.summary import EXIT_UNREACHABLE
from tests.media import write_manifest, write_media


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_host_gone_past_max_outage_exits_75_and_says_to_re_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_media(tmp_path, "a.png", 2_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}])
    monkeypatch.setenv("MEDIAMAGIC_API_KEY", "sk_test_anything")
    message = "MediaMagic API 127.0.0.1:9 unreachable since 02:14:05 (waited 1 s, --max-outage)"

    async def gone(*_: object, **__: object) -> None:
        raise ServiceUnreachable(message + "; stopped. Re-run the same command to resume.")

    monkeypatch.setattr("batcher.cli.main.run_batch", gone)
    code = main([str(manifest), "--report", str(tmp_path / "r.jsonl"), "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_UNREACHABLE == 75
    assert "Stopped: MediaMagic API 127.0.0.1" in err
    assert "Re-run the same command" in err


def test_a_base_url_that_never_answers_fails_in_seconds_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_media(tmp_path, "a.png", 2_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}])
    monkeypatch.setenv("MEDIAMAGIC_API_KEY", "sk_test_anything")
    monkeypatch.setenv("BATCHER_MAX_OUTAGE", "600")  # not waited for: it never answered
    url = f"http://127.0.0.1:{_closed_port()}"
    code = main([str(manifest), "--base-url", url, "--report", str(tmp_path / "r.jsonl"), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert url in err and "--base-url" in err


def test_the_status_line_carries_the_outage_notice() -> None:
    snap = Snapshot(
        elapsed=5.0, rows_total=3, bytes_total=None, rows_read=3, bytes_sent=0,
        files_uploaded=0, rows_submitted=0, rows_done=0, complete=0, failed=0, errors=0,
        bytes_per_second=0.0, rows_per_second=0.0, eta_seconds=None,
        notice="MediaMagic API h:443 unreachable since 02:14:05, waiting (gives up in 890 s)",
    )  # fmt: skip
    assert status_line(snap).endswith("· MediaMagic API h:443 unreachable since 02:14:05, "
                                      "waiting (gives up in 890 s)")  # fmt: skip
