"""The CLI: in-process against a sandbox subprocess, plus one real `python -m batcher` run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batcher.cli.main import main
from batcher.summary import EXIT_DISK_FULL
from tests.media import write_manifest, write_media

FAST = ["--poll-interval", "0.02", "--poll-max-interval", "0.2", "--batch-linger", "0.05"]


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "batcher.sandbox", "--port", "0", "--processing-delay", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://[\w.:\[\]]+", line)
        assert match, f"no URL in sandbox output: {line!r}"
        yield match.group(0)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, sandbox_url: str) -> str:
    for name in list(os.environ):
        if name.startswith("BATCHER_") or name.startswith("MEDIAMAGIC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MEDIAMAGIC_BASE_URL", sandbox_url)
    monkeypatch.setenv("MEDIAMAGIC_API_KEY", "sk_test_sandbox")
    return sandbox_url


def _lines(path: Path) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    return sorted(lines, key=lambda line: int(line["row"]))  # written in finishing order


def test_all_complete_exits_0(env: str, tmp_path: Path) -> None:
    write_media(tmp_path, "a.png", 1_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}])
    report = tmp_path / "r.jsonl"
    assert main([str(manifest), "--report", str(report), *FAST]) == 0
    assert [line["status"] for line in _lines(report)] == ["complete"]


def test_some_rows_in_error_exits_1(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_media(tmp_path, "a.png", 1_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}, {"path": "gone.png"}])
    report = tmp_path / "r.jsonl"
    assert main([str(manifest), "--report", str(report), *FAST]) == 1
    err = capsys.readouterr().err
    assert re.search(r"complete\s+1\b", err)
    assert re.search(r"error\s+1\b", err)
    assert "file_not_found" in err
    assert "wall time" in err


def test_no_key_exits_2_naming_both_ways(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MEDIAMAGIC_API_KEY")
    manifest = write_manifest(tmp_path, [{"path": "a.png"}])
    assert main([str(manifest)]) == 2
    err = capsys.readouterr().err
    assert "MEDIAMAGIC_API_KEY" in err and "--sandbox" in err


def test_bad_manifest_header_exits_2(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("file\na.png\n")
    assert main([str(manifest), "--report", str(tmp_path / "r.jsonl")]) == 2
    assert "no 'path' column" in capsys.readouterr().err


def test_unwritable_report_exits_2_before_any_upload(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_media(tmp_path, "a.png", 1_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}])
    assert main([str(manifest), "--report", str(tmp_path / "no" / "such" / "r.jsonl")]) == 2
    assert "cannot write the report" in capsys.readouterr().err


def test_refused_key_exits_3_without_showing_it(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MEDIAMAGIC_API_KEY", "sk_live_not_a_real_key_123")
    write_media(tmp_path, "a.png", 1_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}])
    assert main([str(manifest), "--report", str(tmp_path / "r.jsonl"), *FAST]) == 3
    err = capsys.readouterr().err
    assert "Invalid API key" in err
    assert "not_a_real_key" not in err


def test_api_key_file_is_read(env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIAMAGIC_API_KEY")
    key_file = tmp_path / "key"
    key_file.write_text("sk_test_sandbox\n")
    write_media(tmp_path, "a.png", 1_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}])
    args = [str(manifest), "--api-key-file", str(key_file), "--report", str(tmp_path / "r.jsonl")]
    assert main([*args, *FAST]) == 0


def test_plain_http_to_a_remote_host_is_refused(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path, [{"path": "a.png"}])
    assert main([str(manifest), "--base-url", "http://example.com"]) == 2
    assert "plain http" in capsys.readouterr().err


def test_options_come_from_batcher_env_vars(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_media(tmp_path, "a.png", 1_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}])
    monkeypatch.setenv("BATCHER_REPORT", str(tmp_path / "from-env.jsonl"))
    monkeypatch.setenv("BATCHER_POLL_INTERVAL", "0.02")
    monkeypatch.setenv("BATCHER_BATCH_LINGER", "0.05")
    assert main([str(manifest)]) == 0
    assert (tmp_path / "from-env.jsonl").exists()


def test_sandbox_flag_runs_without_a_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIAMAGIC_API_KEY", raising=False)
    write_media(tmp_path, "a.pdf", 2_000)
    write_media(tmp_path, "big.mp4", 150_000)
    manifest = write_manifest(tmp_path, [{"path": "a.pdf"}, {"path": "big.mp4"}])
    report = tmp_path / "r.jsonl"
    args = [
        str(manifest),
        "--sandbox",
        "--report",
        str(report),
        "--direct-max-bytes",
        "100000",
        "--batch-linger",
        "0.05",
    ]
    assert main(args) == 0
    lines = _lines(report)
    assert [line["uploadMethod"] for line in lines] == ["direct", "presigned"]


def test_real_subprocess_run_with_the_key_out_of_the_process_listing(
    env: str, tmp_path: Path
) -> None:
    write_media(tmp_path, "a.png", 1_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}])
    report = tmp_path / "r.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "batcher", str(manifest), "--report", str(report), *FAST],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "sk_test_sandbox" not in proc.stderr + proc.stdout
    assert proc.stdout == ""  # stdout stays clean for machine use
    assert _lines(report)[0]["status"] == "complete"


def test_full_disk_for_the_report_exits_74_and_the_journal_keeps_the_work(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_media(tmp_path, "a.png", 1_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}])
    journal = tmp_path / "j.sqlite"
    # /dev/full accepts the open and fails every write with ENOSPC, as a full disk does.
    args = [str(manifest), "--report", "/dev/full", "--journal", str(journal), *FAST]
    assert main(args) == EXIT_DISK_FULL
    err = capsys.readouterr().err
    assert "Error: disk full: cannot write the report /dev/full (No space left on device)" in err
    # The row's progress survived in the journal: a run with room for the report resumes it.
    report = tmp_path / "r.jsonl"
    assert main([str(manifest), "--report", str(report), "--journal", str(journal), *FAST]) == 0
    assert [line["status"] for line in _lines(report)] == ["complete"]


def test_report_and_manifest_subcommands_are_dispatched(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_media(tmp_path, "media/a.png", 1_000)
    write_media(tmp_path, "media/b.pdf", 2_000)
    manifest = tmp_path / "made.csv"
    assert main(["manifest", str(tmp_path / "media"), "-o", str(manifest)]) == 0
    report = tmp_path / "r.jsonl"
    assert main([str(manifest), "--report", str(report), *FAST]) == 0
    capsys.readouterr()
    assert main(["report", str(report), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 2
    assert summary["status"]["complete"] == 2


def test_dry_run_checks_everything_without_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith(("BATCHER_", "MEDIAMAGIC_")):
            monkeypatch.delenv(name)
    # Nothing listens here: any request would fail the run.
    monkeypatch.setenv("MEDIAMAGIC_BASE_URL", "http://127.0.0.1:9")
    write_media(tmp_path, "a.png", 1_000)
    write_media(tmp_path, "big.mp4", 300_000)
    (tmp_path / "doc.pdf").write_bytes(b"not a pdf")
    manifest = write_manifest(
        tmp_path, [{"path": "a.png"}, {"path": "big.mp4"}, {"path": "doc.pdf"}, {"path": "x.png"}]
    )
    plan_json = tmp_path / "plan.json"
    args = [
        str(manifest),
        "--dry-run",
        "--direct-max-bytes",
        "100000",
        "--block-size",
        "1",
        "--summary-json",
        str(plan_json),
    ]
    assert main(args) == 1  # some rows would be refused
    out = capsys.readouterr().out
    assert "Dry run: 4 rows, nothing sent" in out
    plan = json.loads(plan_json.read_text())
    assert plan["direct"] == {"files": 1, "bytes": 1_000}
    assert plan["presigned"]["files"] == 1
    assert plan["refused"] == {"type_mismatch": 1, "file_not_found": 1}
    assert plan["requests"]["E1 upload URL"] == 1
    assert plan["requests"]["E4 create submission"] == 1
    assert not (tmp_path / "manifest.report.jsonl").exists()


def test_retry_reruns_only_failed_rows_and_merges_the_report(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_media(tmp_path, "a.png", 1_000)
    write_media(tmp_path, "b.png", 1_200)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}, {"path": "b.png"}, {"path": "c.png"}])
    report = tmp_path / "r.jsonl"
    assert main([str(manifest), "--report", str(report), *FAST]) == 1
    first = {int(line["row"]): line for line in _lines(report)}
    assert first[3]["status"] == "error"
    write_media(tmp_path, "c.png", 1_300)  # the missing file turns up
    assert main(["retry", str(report), *FAST]) == 0
    merged = _lines(report)
    assert [line["row"] for line in merged] == [1, 2, 3]
    assert merged[0] == first[1] and merged[1] == first[2]  # untouched
    assert merged[2]["status"] == "complete"
    assert "merged 1 retried rows" in capsys.readouterr().err
    assert main(["retry", str(report)]) == 0  # nothing left to retry


def test_log_file_is_json_lines_without_secrets_and_summary_json_is_written(
    env: str, tmp_path: Path
) -> None:
    write_media(tmp_path, "a.png", 1_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}, {"path": "gone.png"}])
    log, summary = tmp_path / "log.jsonl", tmp_path / "summary.json"
    args = [
        str(manifest),
        "--report",
        str(tmp_path / "r.jsonl"),
        "--log-file",
        str(log),
        "--summary-json",
        str(summary),
        *FAST,
    ]
    assert main(args) == 1
    events = [json.loads(x) for x in log.read_text().splitlines()]
    assert {e["event"] for e in events} >= {"submission created", "row finished"}
    assert all({"ts", "level", "event"} <= set(e) for e in events)
    assert "sk_test_sandbox" not in log.read_text()
    data = json.loads(summary.read_text())
    assert data["rows"] == 2
    assert data["status"] == {"complete": 1, "failed": 0, "error": 1}
    assert data["run"]["exitCode"] == 1
    assert data["run"]["submissions"] == 1


def test_an_internal_error_prints_a_redacted_traceback_and_exits_70(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_media(tmp_path, "a.png", 1_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}])

    async def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("boom at https://acct.blob/x?sv=1&sig=TOPSECRET with sk_live_abc123")

    monkeypatch.setattr("batcher.cli.main.run_batch", broken)
    assert main([str(manifest), "--report", str(tmp_path / "r.jsonl")]) == 70
    err = capsys.readouterr().err
    assert "internal error" in err and "RuntimeError" in err
    assert "TOPSECRET" not in err and "abc123" not in err
