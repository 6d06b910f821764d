from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import batcher.rows.sniff
from batcher.rows.scan import Scanner, ScanOptions, matches

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.7\n" + b"x" * 32
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 32


def _ok(name: str) -> bytes:
    """Bytes whose signature matches the extension, as pre-flight sniffing expects."""
    return {".pdf": PDF, ".mp4": MP4}.get(Path(name).suffix, PNG)


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _scan(root: Path, **kw: object) -> tuple[list[str], Scanner]:
    scanner = Scanner(root, ScanOptions(**kw))  # type: ignore[arg-type]
    return [e.relative for e in scanner], scanner


def test_walk_is_sorted_and_deterministic(tmp_path: Path) -> None:
    names = ["b/z.png", "a.png", "b/a.png", "a/x.png", "c.pdf", "B.png"]
    _tree(tmp_path, {n: _ok(n) for n in names})
    listed, _ = _scan(tmp_path)
    assert listed == ["B.png", "a/x.png", "a.png", "b/a.png", "b/z.png", "c.pdf"]
    assert _scan(tmp_path)[0] == listed


def test_entries_carry_type_and_size(tmp_path: Path) -> None:
    _tree(tmp_path, {"spot.mp4": b"x" * 10, "terms.txt": b"hello"})
    entries = {e.relative: (e.content_type, e.size) for e in Scanner(tmp_path)}
    assert entries == {"spot.mp4": ("video/mp4", 10), "terms.txt": ("text/plain", 5)}


def test_include_globs_match_names_at_any_depth_or_whole_paths(tmp_path: Path) -> None:
    _tree(tmp_path, {n: _ok(n) for n in ["tv/a.mp4", "tv/deep/b.mp4", "print/c.pdf", "d.png"]})
    assert _scan(tmp_path, include=["*.mp4"])[0] == ["tv/a.mp4", "tv/deep/b.mp4"]
    listed, scanner = _scan(tmp_path, include=["print/*", "*.png"])
    assert listed == ["d.png", "print/c.pdf"]
    assert scanner.skipped.counts["not_included"] == 2


def test_exclude_globs_leave_out_files_and_whole_folders(tmp_path: Path) -> None:
    _tree(tmp_path, dict.fromkeys(["drafts/a.png", "drafts/sub/b.png", "c.png", "d.png"], PNG))
    listed, scanner = _scan(tmp_path, exclude=["drafts", "d.*"])
    assert listed == ["c.png"]
    assert scanner.skipped.counts["excluded"] == 2  # the folder counts once
    assert scanner.skipped.examples["excluded"] == ["d.png", "drafts"]


def test_hidden_files_and_folders_are_skipped_unless_asked(tmp_path: Path) -> None:
    _tree(tmp_path, dict.fromkeys([".git/x.png", ".thumb.png", "ok.png"], PNG))
    listed, scanner = _scan(tmp_path)
    assert listed == ["ok.png"]
    assert scanner.skipped.counts["hidden"] == 2
    assert _scan(tmp_path, hidden=True)[0] == [".git/x.png", ".thumb.png", "ok.png"]


def test_what_the_api_would_refuse_is_skipped_by_reason(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "empty.png": b"",
            "app.exe": b"MZ",
            "layout.indd": b"x",
            "archive.zip": b"PK",
            "ok.png": PNG,
        },
    )
    listed, scanner = _scan(tmp_path)
    assert listed == ["ok.png"]
    assert scanner.skipped.counts == {
        "empty_file": 1,
        "unknown_type": 1,
        "unsupported_media_type": 2,
    }


def test_files_over_the_category_cap_are_skipped(tmp_path: Path) -> None:
    _tree(
        tmp_path, {"big.png": PNG.ljust(101), "fits.png": PNG.ljust(100), "doc.pdf": PDF.ljust(101)}
    )
    caps = {"image": 100, "document": 1000, "video": 1, "audio": 1}
    listed, scanner = _scan(tmp_path, category_caps=caps)
    assert listed == ["doc.pdf", "fits.png"]
    assert scanner.skipped.examples["too_large"] == ["big.png"]


def test_bytes_plainly_of_another_type_are_skipped(tmp_path: Path) -> None:
    _tree(tmp_path, {"renamed.png": PDF, "binary.txt": b"\x00\x01", "ok.pdf": PDF})
    listed, scanner = _scan(tmp_path)
    assert listed == ["ok.pdf"]
    assert scanner.skipped.examples["type_mismatch"] == ["binary.txt", "renamed.png"]


def test_symlinks_are_skipped_unless_followed(tmp_path: Path) -> None:
    _tree(tmp_path, {"real/a.png": PNG})
    (tmp_path / "link.png").symlink_to(tmp_path / "real" / "a.png")
    (tmp_path / "linkdir").symlink_to(tmp_path / "real")
    listed, scanner = _scan(tmp_path)
    assert listed == ["real/a.png"]
    assert scanner.skipped.counts["symlink"] == 2
    followed, _ = _scan(tmp_path, follow_symlinks=True)
    assert followed == ["link.png", "linkdir/a.png", "real/a.png"]


def test_symlink_loops_are_detected_and_skipped(tmp_path: Path) -> None:
    _tree(tmp_path, {"a/b/x.png": PNG})
    (tmp_path / "a" / "b" / "up").symlink_to(tmp_path / "a")  # a/b/up -> a: a cycle
    (tmp_path / "self").symlink_to(tmp_path / "self")  # ELOOP on stat
    (tmp_path / "dangling.png").symlink_to(tmp_path / "missing.png")
    listed, scanner = _scan(tmp_path, follow_symlinks=True)
    assert listed == ["a/b/x.png"]
    assert scanner.skipped.counts["symlink_loop"] == 2
    assert scanner.skipped.counts["broken_symlink"] == 1


def test_special_files_are_not_listed(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.png")
    listed, scanner = _scan(tmp_path)
    assert listed == []
    assert scanner.skipped.counts["not_a_file"] == 1


def test_unreadable_files_and_folders_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path, {"locked.png": PNG, "closed/x.png": PNG, "ok.png": PNG})
    if os.geteuid() == 0:
        # Root reads files whatever their mode (CI runs as root): stand in for the kernel's
        # EACCES on exactly the two paths a normal user could not read.
        real_mismatch, real_scandir = batcher.rows.sniff.mismatch, os.scandir

        def mismatch(path: Path, content_type: str) -> str | None:
            if path.name == "locked.png":
                raise PermissionError(13, "Permission denied")
            return real_mismatch(path, content_type)

        def scandir(path: Any) -> Any:
            if Path(path).name == "closed":
                raise PermissionError(13, "Permission denied")
            return real_scandir(path)

        monkeypatch.setattr("batcher.rows.scan.mismatch", mismatch)
        monkeypatch.setattr(os, "scandir", scandir)
        listed, scanner = _scan(tmp_path)
    else:
        (tmp_path / "locked.png").chmod(0)
        (tmp_path / "closed").chmod(0)
        try:
            listed, scanner = _scan(tmp_path)
        finally:
            (tmp_path / "closed").chmod(0o755)
    assert listed == ["ok.png"]
    assert scanner.skipped.counts["unreadable"] == 2


def test_names_a_manifest_cannot_carry_are_skipped(tmp_path: Path) -> None:
    _tree(tmp_path, {" padded.png": PNG, "ok.png": PNG})
    (tmp_path / os.fsdecode(b"bad\xff.png")).write_bytes(PNG)
    listed, scanner = _scan(tmp_path)
    assert listed == ["ok.png"]
    assert scanner.skipped.counts["bad_name"] == 2


def test_glob_matching_rules() -> None:
    assert matches(["*.mp4"], "tv/deep/a.mp4")
    assert matches(["tv/*"], "tv/deep/a.mp4")
    assert not matches(["*.MP4"], "a.mp4")
    assert not matches(["print/*"], "tv/print/a.pdf")
