from __future__ import annotations

import os
from pathlib import Path

import pytest

from batcher.config import Settings
from batcher.rows.manifest import ManifestRow
from batcher.rows.preflight import check_row, guess_content_type

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _row(path: str, content_type: str | None = None) -> ManifestRow:
    return ManifestRow(
        row=1, path_text=path, content_type=content_type, previous_submission_id=None, columns={}
    )


def _code(tmp_path: Path, path: str, content_type: str | None = None, **kw: object) -> str | None:
    settings = Settings(**kw)  # pydantic validates the test values
    _, problem = check_row(_row(path, content_type), tmp_path, settings)
    return None if problem is None else problem.code


def test_good_small_file_goes_direct(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(PNG)
    job, problem = check_row(_row("logo.png"), tmp_path, Settings())
    assert problem is None
    assert job.upload_method == "direct"
    assert job.content_type == "image/png"
    assert job.size == len(PNG)


def test_file_over_the_direct_cap_goes_presigned(tmp_path: Path) -> None:
    (tmp_path / "v.mp4").write_bytes(b"\x00" * 2048)
    job, problem = check_row(_row("v.mp4"), tmp_path, Settings(direct_max_bytes=1024))
    assert problem is None
    assert job.upload_method == "presigned"


@pytest.mark.parametrize(
    ("setup", "path", "content_type", "code"),
    [
        (None, "missing.mp4", None, "file_not_found"),
        ("dir", "adir", "video/mp4", "not_a_file"),
        ("empty", "empty.png", None, "empty_file"),
        ("loop", "loop.mp4", None, "symlink_loop"),
        ("png", "logo.png", "application/zip", "unsupported_media_type"),
        ("weird", "notes.xyz123", None, "unknown_type"),
    ],
)
def test_refused_rows_name_the_reason(
    tmp_path: Path, setup: str | None, path: str, content_type: str | None, code: str
) -> None:
    if setup == "dir":
        (tmp_path / "adir").mkdir()
    elif setup == "empty":
        (tmp_path / "empty.png").write_bytes(b"")
    elif setup == "loop":
        os.symlink(tmp_path / "loop.mp4", tmp_path / "loop.mp4")
    elif setup == "png":
        (tmp_path / "logo.png").write_bytes(PNG)
    elif setup == "weird":
        (tmp_path / "notes.xyz123").write_bytes(b"x")
    assert _code(tmp_path, path, content_type) == code


def test_file_over_its_category_cap_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big.png").write_bytes(PNG)
    caps = {"video": 10, "audio": 10, "image": 10, "document": 10}
    assert _code(tmp_path, "big.png", category_caps=caps) == "too_large"


def test_manifest_problem_is_passed_through(tmp_path: Path) -> None:
    from batcher.errors import InputError

    row = ManifestRow(1, "x", None, None, {}, InputError("bad", code="bad_json"))
    _, problem = check_row(row, tmp_path, Settings())
    assert problem is not None and problem.code == "bad_json"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.mp4", "video/mp4"),
        ("a.MOV", "video/quicktime"),
        ("a.mkv", "video/x-matroska"),
        ("a.mp3", "audio/mpeg"),
        ("a.wav", "audio/wav"),
        ("a.pdf", "application/pdf"),
        ("a.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("a.txt", "text/plain"),
        ("a.webp", "image/webp"),
    ],
)
def test_content_type_guesses_match_the_allowlist(name: str, expected: str) -> None:
    assert guess_content_type(Path(name)) == expected


@pytest.mark.parametrize(
    ("name", "content", "content_type", "expected"),
    [
        ("a.png", b"%PDF-1.7\n....", None, "type_mismatch"),
        ("a.pdf", b"just words", None, "type_mismatch"),
        ("a.mp4", b"%PDF-1.7\n", None, "type_mismatch"),
        ("a.txt", b"abc\x00def", None, "type_mismatch"),
        ("a.docx", b"PK\x03\x04rest", None, None),
        ("a.mp4", b"\x00\x00\x00\x18ftypisom", None, None),
        ("a.mov", b"\x00\x00\x00\x08wide", None, None),  # old QuickTime: left to the service
        ("a.bin", b"\x89PNG\r\n\x1a\nxx", "image/png", None),
    ],
)
def test_bytes_plainly_not_of_the_declared_type_are_refused(
    tmp_path: Path, name: str, content: bytes, content_type: str | None, expected: str | None
) -> None:
    (tmp_path / name).write_bytes(content)
    assert _code(tmp_path, name, content_type) == expected


def test_unreadable_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root, for whom chmod 000 still reads: stand in for the kernel's EACCES.
    (tmp_path / "secret.png").write_bytes(PNG)
    monkeypatch.setattr(os, "access", lambda *_a, **_k: False)
    assert _code(tmp_path, "secret.png") == "unreadable"


# Hostile paths: each is that row's error, never an exception out of check_row.


def test_a_nul_in_the_path_is_a_row_error(tmp_path: Path) -> None:
    _, problem = check_row(_row("a\x00b.png"), tmp_path, Settings())
    assert problem is not None and problem.code == "bad_path"
    assert "\\x00" in problem.message and "\x00" not in problem.message


def test_a_path_too_long_for_the_file_system_is_a_row_error(tmp_path: Path) -> None:
    _, problem = check_row(_row("d/" * 2500 + "a.png"), tmp_path, Settings())
    assert problem is not None and problem.code == "bad_path"
    assert "too long" in problem.message and len(problem.message) < 600
    _, problem = check_row(_row("x" * 5000 + ".png"), tmp_path, Settings())
    assert problem is not None and problem.code == "bad_path"


def test_a_fifo_and_a_device_are_not_files(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.mp4")
    assert _code(tmp_path, "pipe.mp4") == "not_a_file"
    assert _code(tmp_path, "/dev/zero", "video/mp4") == "not_a_file"


def test_dot_dot_escapes_are_allowed_when_they_lead_to_a_real_file(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(PNG)
    (tmp_path / "sub").mkdir()
    assert _code(tmp_path / "sub", "../logo.png") is None
    assert _code(tmp_path / "sub", "../../nope/logo.png") == "file_not_found"


def test_messages_escape_control_characters_in_paths(tmp_path: Path) -> None:
    _, problem = check_row(_row("evil\x1b[2J\u202e.png"), tmp_path, Settings())
    assert problem is not None and problem.code == "file_not_found"
    assert "\x1b" not in problem.message and "\\x1b" in problem.message
    assert "\\u202e" in problem.message
