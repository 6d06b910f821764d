from __future__ import annotations

from pathlib import Path

import pytest

from batcher.errors import UsageError
from batcher.rows.manifest import read_manifest


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_csv_rows_carry_known_and_extra_columns(tmp_path: Path) -> None:
    m = _write(tmp_path, "m.csv", b"path,content_type,asset_id\na.mp4,video/mp4,A-1\nb.png,,B-2\n")
    rows = list(read_manifest(m))
    assert [r.row for r in rows] == [1, 2]
    assert rows[0].content_type == "video/mp4"
    assert rows[1].content_type is None
    assert rows[0].columns == {"asset_id": "A-1"}


def test_bom_and_crlf_are_tolerated(tmp_path: Path) -> None:
    m = _write(tmp_path, "m.csv", b"\xef\xbb\xbfpath,note\r\na.mp4,x\r\nb.mp4,y\r\n")
    rows = list(read_manifest(m))
    assert [r.path_text for r in rows] == ["a.mp4", "b.mp4"]
    assert rows[1].columns == {"note": "y"}


def test_quoted_commas_and_blank_lines(tmp_path: Path) -> None:
    m = _write(tmp_path, "m.csv", b'path,title\n\n"my, file.mp4","Hello, world"\n\n,\nz.mp4,z\n')
    rows = list(read_manifest(m))
    assert [r.path_text for r in rows] == ["my, file.mp4", "z.mp4"]
    assert rows[0].columns == {"title": "Hello, world"}


def test_missing_path_column_names_the_header_and_suggests(tmp_path: Path) -> None:
    m = _write(tmp_path, "m.csv", b"pth,content_type\na.mp4,video/mp4\n")
    with pytest.raises(UsageError, match=r"no 'path' column.*'pth' a misspelling of 'path'"):
        read_manifest(m)


def test_empty_manifest_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="empty"):
        read_manifest(_write(tmp_path, "m.csv", b""))
    with pytest.raises(UsageError, match="no data rows"):
        read_manifest(_write(tmp_path, "h.csv", b"path\n"))


def test_missing_manifest_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        read_manifest(tmp_path / "nope.csv")


def test_non_utf8_row_is_a_row_error_and_others_go_on(tmp_path: Path) -> None:
    m = _write(tmp_path, "m.csv", b"path\ngood.mp4\nbad\xff\xfe.mp4\nalso.mp4\n")
    rows = list(read_manifest(m))
    assert len(rows) == 3
    assert rows[0].problem is None
    assert rows[1].problem is not None
    assert rows[1].problem.code == "bad_encoding"
    assert rows[2].problem is None


def test_row_with_too_many_fields_is_flagged(tmp_path: Path) -> None:
    m = _write(tmp_path, "m.csv", b"path,title\na.mp4,one,two\n")
    (row,) = list(read_manifest(m))
    assert row.problem is not None
    assert "quote values" in row.problem.message


def test_empty_path_value_is_a_row_error(tmp_path: Path) -> None:
    m = _write(tmp_path, "m.csv", b"path,title\n,orphan\n")
    (row,) = list(read_manifest(m))
    assert row.problem is not None
    assert row.problem.code == "missing_path"


def test_jsonl_rows_with_a_bad_line(tmp_path: Path) -> None:
    m = _write(
        tmp_path,
        "m.jsonl",
        b'{"path": "a.mp4", "campaign": "spring"}\n\n{not json}\n[1,2]\n{"path": "b.pdf"}\n',
    )
    rows = list(read_manifest(m))
    assert [r.row for r in rows] == [1, 2, 3, 4]
    assert rows[0].columns == {"campaign": "spring"}
    assert rows[1].problem is not None and rows[1].problem.code == "bad_json"
    assert rows[2].problem is not None and "object" in rows[2].problem.message
    assert rows[3].path_text == "b.pdf"


def test_relative_paths_resolve_against_the_manifest_folder(tmp_path: Path) -> None:
    m = _write(tmp_path, "m.csv", b"path\nsub/a.mp4\n/abs/b.mp4\n")
    rows = list(read_manifest(m))
    assert rows[0].resolve(tmp_path) == tmp_path / "sub/a.mp4"
    assert rows[1].resolve(tmp_path) == Path("/abs/b.mp4")


def test_a_tilde_file_name_is_relative_and_home_paths_expand(tmp_path: Path) -> None:
    m = _write(tmp_path, "m.csv", b"path\n~draft.png\n~/media/a.png\n")
    tilde, home = list(read_manifest(m))
    assert tilde.resolve(tmp_path) == tmp_path / "~draft.png"
    assert home.resolve(tmp_path) == Path.home() / "media/a.png"
