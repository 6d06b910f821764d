from __future__ import annotations

from pathlib import Path

from batcher.outcome import RowJob
from batcher.rows.naming import upload_filename


def _job(path: Path, size: int = 10, mtime_ns: int = 1) -> RowJob:
    return RowJob(row=1, path_text=str(path), columns={}, path=path, size=size, mtime_ns=mtime_ns)


def test_same_file_name_in_two_folders_gets_two_names() -> None:
    a = upload_filename(_job(Path("/lib/a/logo.png")), "run1", "fresh")
    b = upload_filename(_job(Path("/lib/b/logo.png")), "run1", "fresh")
    assert a != b
    assert a.startswith("logo.") and a.endswith(".png")


def test_fresh_names_change_per_run_and_skip_names_do_not() -> None:
    p = Path("/lib/a/spot.mp4")
    assert upload_filename(_job(p), "run1", "fresh") != upload_filename(_job(p), "run2", "fresh")
    assert upload_filename(_job(p), "run1", "skip") == upload_filename(_job(p), "run2", "skip")


def test_skip_names_change_when_the_file_changes() -> None:
    p = Path("/lib/a/spot.mp4")
    assert upload_filename(_job(p, size=1), "r", "skip") != upload_filename(
        _job(p, size=2), "r", "skip"
    )


def test_unsafe_characters_are_replaced_but_unicode_and_spaces_kept() -> None:
    name = upload_filename(_job(Path("/x/Été promo\x01.mp4")), "r", "fresh")
    assert name.startswith("Été promo_.")
    assert "\x01" not in name and "/" not in name


def test_very_long_names_are_shortened() -> None:
    name = upload_filename(_job(Path("/x/" + "é" * 300 + ".pdf")), "r", "fresh")
    assert len(name.encode()) < 200
    assert name.endswith(".pdf")
