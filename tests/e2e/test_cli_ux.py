"""Help and discovery, settings from the environment and a config file, output paths checked
before any upload, a closed stderr, the end summary's next steps and byte counts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from batcher.cli.layers import parse_main
from batcher.cli.main import main
from tests.e2e.test_cli import FAST, _lines
from tests.e2e.test_cli import env as env
from tests.e2e.test_cli import sandbox_url as sandbox_url
from tests.media import write_manifest, write_media


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("BATCHER_", "MEDIAMAGIC_")):
            monkeypatch.delenv(name)


def test_version_and_help_list_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert re.fullmatch(r"batcher \S+\n", capsys.readouterr().out)
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("batcher retry REPORT", "batcher report REPORT", "batcher manifest DIR"):
        assert command in out
    assert "batcher.toml" in out and "BATCHER_<OPTION>" in out and "--config" in out


def test_help_works_for_every_command_without_a_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _clean_env(monkeypatch)
    assert main(["retry", "--help"]) == 0
    assert "usage: batcher retry REPORT" in capsys.readouterr().out
    assert main(["help"]) == 0
    assert "commands:" in capsys.readouterr().out
    assert main(["help", "report"]) == 0
    assert "usage: batcher report" in capsys.readouterr().out
    assert main(["help", "retry"]) == 0
    assert "--manifest PATH" in capsys.readouterr().out
    assert main(["help", "nonsense"]) == 2
    assert "no command 'nonsense'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("BATCHER_UPLOAD_WORKERS", "abc", "BATCHER_UPLOAD_WORKERS='abc' is not an integer"),
        ("BATCHER_BATCH_LINGER", "soon", "BATCHER_BATCH_LINGER='soon' is not a number"),
        ("BATCHER_RERUN", "maybe", "BATCHER_RERUN='maybe' is not one of fresh, skip"),
        ("BATCHER_FRESH", "perhaps", "BATCHER_FRESH='perhaps' is not on/off"),
        ("BATCHER_LOG_LEVEL", "LOUD", "BATCHER_LOG_LEVEL='LOUD' is not one of DEBUG"),
    ],
)
def test_a_bad_environment_value_is_named_by_its_variable(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    says: str,
) -> None:
    _clean_env(monkeypatch)
    monkeypatch.setenv(variable, value)
    assert main([str(tmp_path / "m.csv")]) == 2
    err = capsys.readouterr().err
    assert says in err
    assert "argument --" not in err  # not blamed on a flag the user never typed


def _toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_config_file_then_environment_then_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _toml(
        tmp_path / "batcher.toml",
        'upload-workers = 3\nbatch_size = 7\nrerun = "skip"\nfresh = true\n'
        'report = "from-file.jsonl"\n',
    )
    environ = {"BATCHER_BATCH_SIZE": "9", "BATCHER_REPORT": "from-env.jsonl"}
    args = parse_main(["m.csv", "--report", "from-cli.jsonl"], environ)
    assert args.upload_workers == 3  # file only
    assert args.batch_size == 9  # environment over file
    assert args.report == Path("from-cli.jsonl")  # command line over both
    assert args.rerun == "skip" and args.fresh is True
    assert parse_main(["m.csv", "--batch-size", "11"], environ).batch_size == 11
    # ./batcher.toml is the default; --config and BATCHER_CONFIG name another file.
    other = _toml(tmp_path / "other.toml", "upload_workers = 5\n")
    assert parse_main(["m.csv", "--config", str(other)], {}).upload_workers == 5
    assert parse_main(["m.csv"], {"BATCHER_CONFIG": str(other)}).upload_workers == 5
    config.unlink()
    assert parse_main(["m.csv"], {}).upload_workers == 8  # built-in default


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("upload-wokers = 3\n", "unknown setting 'upload-wokers'"),
        ('upload-workers = "many"\n', "upload-workers = 'many' is not an integer"),
        ("batch-size = 2.5\n", "batch-size = 2.5 is not an integer"),
        ("upload-workers = [\n", "is not valid TOML"),
    ],
)
def test_a_bad_config_file_names_the_file_and_the_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    says: str,
) -> None:
    _clean_env(monkeypatch)
    config = _toml(tmp_path / "c.toml", text)
    assert main([str(tmp_path / "m.csv"), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert says in err and str(config) in err


def test_a_missing_named_config_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _clean_env(monkeypatch)
    assert main([str(tmp_path / "m.csv"), "--config", str(tmp_path / "none.toml")]) == 2
    assert "cannot read the config file" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--summary-json", "--log-file", "--stats-json", "--report"])
def test_an_unwritable_output_path_stops_the_run_before_any_upload(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    write_media(tmp_path, "a.png", 1_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}])
    bad = tmp_path / "no" / "such" / "out.json"
    report = tmp_path / "r.jsonl"
    args = [str(manifest), "--report", str(report), *FAST, option, str(bad)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert option in err and str(bad) in err and "No such file or directory" in err
    assert not report.exists() or report.read_text() == ""  # nothing ran
    assert "wall time" not in err


def test_a_closed_stderr_never_stops_or_fails_the_run(env: str, tmp_path: Path) -> None:
    rows = [{"path": write_media(tmp_path, f"f{i}.png", 1_000 + i).name} for i in range(10)]
    manifest = write_manifest(tmp_path, rows)
    report = tmp_path / "r.jsonl"
    argv = [sys.executable, "-m", "batcher", str(manifest), "--report", str(report), *FAST]
    argv += ["--status-interval", "0.01", "--verbose"]  # plenty to write into the dead pipe
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ)
    )
    assert proc.stderr is not None
    proc.stderr.close()  # as `| head -0`: the reader is gone before the first line
    assert proc.wait(timeout=60) == 0
    assert sorted(line["row"] for line in _lines(report)) == list(range(1, 11))
    assert {line["status"] for line in _lines(report)} == {"complete"}


def test_stats_json_streams_one_object_per_interval(env: str, tmp_path: Path) -> None:
    write_media(tmp_path, "a.png", 1_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}, {"path": "gone.png"}])
    stats = tmp_path / "stats.jsonl"
    args = [str(manifest), "--report", str(tmp_path / "r.jsonl"), *FAST]
    assert main([*args, "--stats-json", str(stats), "--status-interval", "0.05"]) == 1
    objects: list[dict[str, Any]] = [json.loads(x) for x in stats.read_text().splitlines()]
    assert objects and all(o["event"] in ("stats", "notice") for o in objects)
    final = objects[-1]
    assert final["final"] is True and final["phase"] == "done"
    assert final["rows"]["done"] == 2 and final["rows"]["complete"] == 1


def test_end_summary_counts_only_bytes_sent_and_says_what_to_do_next(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_media(tmp_path, "a.png", 1_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}, {"path": "./a.png"}])
    report = tmp_path / "r.jsonl"
    summary = tmp_path / "s.json"
    args = [str(manifest), "--report", str(report), "--summary-json", str(summary), *FAST]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "uploaded        1 files, 1.0 kB in this run" in err
    assert "not sent        1 refused (1.0 kB)" in err
    assert re.search(r"direct\s+1\s+1.0 kB", err)  # the duplicate is not counted as direct
    assert re.search(r"not sent\s+1\s+1.0 kB", err)
    assert f"batcher report {report} --status failed --status error" in err
    assert f"batcher retry {report}" in err
    data = json.loads(summary.read_text())
    assert data["run"]["bytesUploaded"] == 1_000
    assert data["run"]["notSent"] == {"refused": {"rows": 1, "bytes": 1_000}}
    assert data["uploadMethods"]["direct"] == {"rows": 1, "bytes": 1_000}


def test_log_level_notice_drops_row_lines_and_error_is_quiet(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_media(tmp_path, "a.png", 1_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}, {"path": "gone.png"}])
    base = [str(manifest), "--report", str(tmp_path / "r.jsonl"), *FAST]
    log = tmp_path / "log.jsonl"
    assert main([*base, "--log-level", "INFO"]) == 1
    assert "row 2 error [preflight/file_not_found]" in capsys.readouterr().err
    assert main([*base, "--log-level", "notice", "--log-file", str(log)]) == 1
    err = capsys.readouterr().err
    assert "row 2 error" not in err and "] done · rows 2/2" in err
    levels = {json.loads(x)["level"] for x in log.read_text().splitlines()}
    assert "info" not in levels  # the file follows the level too
    assert main([*base, "--log-level", "ERROR"]) == 1
    err = capsys.readouterr().err
    assert "row 2 error" not in err and "rows 2/2" not in err and "wall time" in err


def test_an_abort_prints_one_count_not_a_line_per_unfinished_row(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MEDIAMAGIC_API_KEY", "sk_live_not_a_real_key_123")
    rows = [{"path": write_media(tmp_path, f"f{i}.png", 1_000 + i).name} for i in range(6)]
    manifest = write_manifest(tmp_path, rows)
    report = tmp_path / "r.jsonl"
    assert main([str(manifest), "--report", str(report), *FAST]) == 3
    err = capsys.readouterr().err
    aborted = [x for x in _lines(report) if x["error"] and x["error"]["code"] == "aborted"]
    assert aborted
    assert f"{len(aborted)} row" in err and "left unfinished (aborted)" in err
    assert not re.search(r"^row \d+ error \[run/aborted\]", err, re.M)
