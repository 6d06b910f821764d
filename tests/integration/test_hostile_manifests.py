"""Hostile manifests through the real pipeline (sandbox over loopback, live progress on so
the prescan runs too): one report line per data row, the good rows complete, exit 1."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from batcher import run_batch
from batcher.cli.main import main
from batcher.progress.views import QuietView
from batcher.sandbox import SandboxConfig
from tests.fixtures.sandbox import MakeSandbox
from tests.integration.helpers import fast_settings, read_report
from tests.media import write_media

pytestmark = pytest.mark.anyio


def _media(tmp_path: Path) -> None:
    for name in ("good1.png", "good2.pdf", "good3.png", "good4.png", "good5.png"):
        write_media(tmp_path, name, 3_000)
    os.mkfifo(tmp_path / "pipe.png")


async def _run(
    make_sandbox: MakeSandbox, tmp_path: Path, manifest: Path
) -> list[dict[str, object]]:
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        settings = fast_settings(sb.base_url, tmp_path)
        summary = await run_batch(manifest, settings, view=QuietView())
    lines = read_report(settings.report_path)  # type: ignore[arg-type]
    assert summary.exit_code == 1
    assert summary.rows == len(lines)
    return lines


def _outcome(line: dict[str, object]) -> str:
    error = line["error"]
    return str(line["status"]) if error is None else str(error["code"])  # type: ignore[index]


async def test_a_hostile_csv_loses_no_row_and_the_good_ones_finish(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    _media(tmp_path)
    data = b"".join(
        [
            b"path,campaign\n",
            b"good1.png,a\n",  # 1
            b'nul\x00.png,"spring\n',  # 2: NUL in the path, and a quote that never closes...
            b"good2.pdf,b\n",  # 3 ...would swallow these
            b"good3.png,c\n",  # 4
            b"big.png," + b"x" * 1_000_000 + b"\n",  # 5: a megabyte field
            b"d/" * 2500 + b"long.png,e\n",  # 6: ENAMETOOLONG
            b"pipe.png,f\n",  # 7: a FIFO
            b"bad\xff.png,g\n",  # 8: not UTF-8 in an otherwise UTF-8 file
            "caf\u00e9.png,h\n".encode(),  # 9: missing, but valid UTF-8
            b"/dev/zero,i\n",  # 10
            b"../" * 40 + b"nowhere.png,j\n",  # 11
            b"good4.png,k\n",  # 12
            b'good5.png,"multi\nline note"\n',  # 13: a real multi-line value
        ]
    )
    manifest = tmp_path / "hostile.csv"
    manifest.write_bytes(data)
    lines = await _run(make_sandbox, tmp_path, manifest)
    assert [line["row"] for line in lines] == list(range(1, 14))
    assert [_outcome(line) for line in lines] == [
        "complete",
        "bad_row",  # the open quote is named, rather than the NUL
        "complete",
        "complete",
        "field_too_large",
        "bad_path",
        "not_a_file",
        "bad_encoding",
        "file_not_found",
        "not_a_file",
        "file_not_found",
        "complete",
        "complete",
    ]
    assert lines[12]["columns"] == {"campaign": "multi\nline note"}


async def test_a_hostile_jsonl_loses_no_row_and_the_good_ones_finish(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    _media(tmp_path)
    rows = [
        b'{"path": "good1.png", "note": "\\ud800"}',  # lone surrogate in a column
        b'{"path": "good2.pdf"}',
        b'{"path": "x\\ud800.png"}',  # ... and in a path
        b'{"path": "a", "x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
        b'{"path": "nul\\u0000.png"}',
        b'{"path": "good3.png", "path": "good4.png"}',
        b'{"path": "good4.png", "n": ' + b"9" * 5000 + b"}",
        b'{"path": "good5.png", "tags": ["a", {"b": null}]}',
    ]
    manifest = tmp_path / "hostile.jsonl"
    manifest.write_bytes(b"\n".join(rows) + b"\n")
    lines = await _run(make_sandbox, tmp_path, manifest)
    assert [_outcome(line) for line in lines] == [
        "bad_encoding",
        "complete",
        "bad_encoding",
        "bad_json",
        "bad_path",
        "bad_json",
        "bad_json",
        "complete",
    ]
    assert lines[0]["columns"] == {"note": "\\ud800"}
    assert lines[7]["columns"] == {"tags": ["a", {"b": None}]}


async def test_manifests_from_other_tools_run(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    _media(tmp_path)
    utf16 = tmp_path / "excel.txt"
    utf16.write_bytes(b"\xff\xfe" + "path\tcampagne\r\ngood1.png\tét\u00e9\r\n".encode("utf-16-le"))
    semi = tmp_path / "europe.csv"
    semi.write_bytes(b"path;campagne\ngood2.pdf;x\n")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(
        "path,campagne\ngood3.png,\u00e9t\u00e9\ngood4.png,caf\u00e9\n".encode("latin-1")
    )
    async with make_sandbox(SandboxConfig(processing_delay=0.02)) as sb:
        for i, manifest in enumerate((utf16, semi, latin)):
            settings = fast_settings(
                sb.base_url,
                tmp_path,
                report_path=tmp_path / f"r{i}.jsonl",
                manifest_encoding="latin-1" if manifest is latin else "auto",
            )
            summary = await run_batch(manifest, settings)
            assert summary.exit_code == 0, read_report(tmp_path / f"r{i}.jsonl")
    assert read_report(tmp_path / "r0.jsonl")[0]["columns"] == {"campagne": "été"}
    assert read_report(tmp_path / "r2.jsonl")[1]["columns"] == {"campagne": "café"}


def _refusal(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert all(ch.isprintable() or ch == "\n" for ch in err), err
    return err


def test_unusable_manifests_are_refused_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDIAMAGIC_API_KEY", "mm_test_unused")
    monkeypatch.chdir(tmp_path)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("path\n\u00e9t\u00e9.png\ncaf\u00e9.png\n".encode("latin-1"))
    err = _refusal([str(latin), "--dry-run"], capsys)
    assert "latin.csv" in err and "line 2" in err and "--manifest-encoding latin-1" in err
    err = _refusal([str(latin)], capsys)
    assert "--manifest-encoding latin-1" in err
    dup = tmp_path / "dup.csv"
    dup.write_bytes(b"path,campaign,path\na.png,x,b.png\n")
    assert "'path' appears 2 times" in _refusal([str(dup)], capsys)
    utf16 = tmp_path / "u.csv"
    utf16.write_bytes("pth\tx\r\na\tb\r\n".encode("utf-16-le"))
    assert "\\x00" in _refusal([str(utf16), "--manifest-encoding", "utf-8"], capsys)
    assert "manifest_encoding" in _refusal([str(utf16), "--manifest-encoding", "nope"], capsys)
    assert not list(tmp_path.glob("*.report.jsonl"))


def test_the_dry_run_survives_the_same_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _media(tmp_path)
    manifest = tmp_path / "m.jsonl"
    manifest.write_bytes(
        b'{"path": "nul\\u0000.png"}\n{"path": "x\\ud800.png"}\n'
        + b'{"path": "'
        + b"d/" * 2500
        + b'a.png"}\n{"path": "good1.png"}\n'
    )
    summary = tmp_path / "plan.json"
    assert main([str(manifest), "--dry-run", "--summary-json", str(summary)]) == 1
    plan = json.loads(summary.read_text())
    assert plan["rows"] == 4
    assert plan["refused"] == {"bad_path": 2, "bad_encoding": 1}
