from __future__ import annotations

import os
from pathlib import Path

import pytest

from batcher.cli.manifest_cmd import main
from batcher.config import Settings
from batcher.rows.manifest import read_manifest
from batcher.rows.preflight import check_row

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    files = {
        "tv/spot, final.mp4": b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100,
        "radio/jingle.mp3": b"ID3" + b"\x00" * 50,
        "print/brochure.pdf": b"%PDF-1.7\n" + b"x" * 50,
        "print/notes.txt": b"Prices from 9.99\n",
        "social/banner.png": PNG,
        "social/empty.png": b"",
        "social/.hidden.png": PNG,
        "tv/project.prproj": b"x",
        "tv/archive.zip": b"PK",
        "social/renamed.png": b"%PDF-1.7\n",  # pre-flight sniffing would refuse it
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_manifest_rows_all_pass_preflight(
    tmp_path: Path, media: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "manifest.csv"
    assert main([str(media), "-o", str(out)]) == 0
    rows = list(read_manifest(out))
    assert [r.path_text for r in rows] == [
        "media/print/brochure.pdf",
        "media/print/notes.txt",
        "media/radio/jingle.mp3",
        "media/social/banner.png",
        "media/tv/spot, final.mp4",
    ]
    for row in rows:
        job, problem = check_row(row, out.parent, Settings())
        assert problem is None, problem
        assert job.content_type == row.content_type
        assert str(job.size) == row.columns["bytes"]


def test_skips_are_counted_by_reason_on_stderr(
    tmp_path: Path, media: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(media), "-o", str(tmp_path / "m.csv")]) == 0
    err = capsys.readouterr().err
    assert "wrote" in err and "5 files" in err
    assert "skipped 5:" in err
    assert "bytes are plainly another type" in err and "social/renamed.png" in err
    assert "empty file (0 bytes)" in err and "social/empty.png" in err
    assert "hidden file or folder" in err
    assert "type unknown from the extension" in err and "tv/project.prproj" in err
    assert "not on the MediaMagic allowlist" in err and "tv/archive.zip" in err


def test_paths_outside_the_manifest_folder_are_absolute(tmp_path: Path, media: Path) -> None:
    out = tmp_path / "elsewhere" / "m.csv"
    out.parent.mkdir()
    assert main([str(media), "-o", str(out), "--include", "*.png"]) == 0
    (row,) = list(read_manifest(out))
    assert row.path_text == str(media / "social" / "banner.png")
    assert check_row(row, out.parent, Settings())[1] is None


def test_output_is_byte_identical_across_runs(tmp_path: Path, media: Path) -> None:
    first, second = tmp_path / "1.csv", tmp_path / "2.csv"
    assert main([str(media), "-o", str(first)]) == 0
    assert main([str(media), "-o", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    assert first.read_text(encoding="utf-8").startswith("path,content_type,bytes\n")
    assert not list(tmp_path.glob(".*.tmp"))


def test_dash_writes_the_manifest_to_stdout(
    media: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(media)
    assert main([".", "-o", "-", "--include", "*.pdf"]) == 0
    assert (
        capsys.readouterr().out
        == "path,content_type,bytes\nprint/brochure.pdf,application/pdf,59\n"
    )


def test_a_leading_tilde_is_written_absolute_so_it_is_not_expanded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "~user.png").write_bytes(PNG)
    out = tmp_path / "m.csv"
    assert main([str(tmp_path), "-o", str(out)]) == 0
    (row,) = list(read_manifest(out))
    assert row.path_text == str(tmp_path / "~user.png")
    assert check_row(row, tmp_path, Settings())[1] is None
    # The manifest inside DIR does not list itself, nor mention its temporary file.
    assert "skipped nothing" in capsys.readouterr().err


def test_not_a_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope"), "-o", os.devnull]) == 2
    assert "not a directory" in capsys.readouterr().err
