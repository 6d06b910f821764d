"""``batcher retry``: its summary, its side files, and the rows it leaves alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from batcher.cli.main import main
from tests.e2e.test_cli import FAST, _lines
from tests.e2e.test_cli import env as env
from tests.e2e.test_cli import sandbox_url as sandbox_url
from tests.media import write_manifest, write_media


def test_retry_skips_unchanged_refusals_cleans_up_and_sums_up_the_whole_report(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_media(tmp_path, "a.png", 1_000)
    (tmp_path / "empty.png").write_bytes(b"")
    manifest = write_manifest(
        tmp_path, [{"path": "a.png"}, {"path": "empty.png"}, {"path": "c.png"}]
    )
    report = tmp_path / "r.jsonl"
    assert main([str(manifest), "--report", str(report), *FAST]) == 1
    first = {int(x["row"]): x for x in _lines(report)}
    assert first[2]["error"]["code"] == "empty_file"
    capsys.readouterr()

    write_media(tmp_path, "c.png", 1_300)  # the missing file turns up; empty.png is as it was
    assert main(["retry", str(report), *FAST]) == 1
    err = capsys.readouterr().err
    assert "not retried: 1 rows that would fail the same way unchanged (empty_file 1)" in err
    assert "merged 1 retried rows" in err
    assert "rows 1/1 done" in err  # progress counts the retried rows, not the manifest's
    merged = {int(x["row"]): x for x in _lines(report)}
    assert merged[2] == first[2] and merged[3]["status"] == "complete"
    # Headed by the report itself, summing all its rows; no side file left behind.
    assert re.search(rf"^Report    {re.escape(str(report))} ", err, re.M)
    assert ".retry.jsonl" not in err
    assert re.search(r"complete\s+2\b", err)
    assert sorted(p.name for p in tmp_path.glob("r.jsonl*")) == [
        "r.jsonl",
        "r.jsonl.journal.sqlite",
    ]

    write_media(tmp_path, "empty.png", 900)  # fixed: changed since the report, so retried
    assert main(["retry", str(report), *FAST]) == 0
    assert {x["status"] for x in _lines(report)} == {"complete"}
    assert not list(tmp_path.glob("*.retry.jsonl*"))


def test_retry_of_a_duplicate_row_does_not_upload_the_file_again(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_media(tmp_path, "a.png", 1_000)
    manifest = write_manifest(tmp_path, [{"path": "a.png"}, {"path": "./a.png"}])
    report = tmp_path / "r.jsonl"
    assert main([str(manifest), "--report", str(report), *FAST]) == 1
    capsys.readouterr()
    assert main(["retry", str(report), *FAST]) == 0
    err = capsys.readouterr().err
    assert "duplicate_row 1" in err and "nothing to retry" in err
