"""Hostile manifests: every data line becomes exactly one row (maybe an error row), and a
manifest that cannot be used is refused up front with a message that names the file."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from batcher.errors import UsageError
from batcher.progress.loop import Totals, prescan
from batcher.rows.manifest import ManifestRow, read_manifest


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _codes(rows: list[ManifestRow]) -> list[str | None]:
    return [r.problem.code if r.problem else None for r in rows]


def _printable(message: str) -> bool:
    return all(ch.isprintable() for ch in message)


# 1. unbalanced quotes


def test_an_unbalanced_quote_cannot_swallow_the_rows_after_it(tmp_path: Path) -> None:
    data = b'path,campaign\na.mp4,"spring\nb.mp4,x\nc.mp4,y\nd.mp4,"z\ne.mp4,w\n'
    rows = list(read_manifest(_write(tmp_path, "m.csv", data)))
    assert [r.row for r in rows] == [1, 2, 3, 4, 5]
    assert [r.path_text for r in rows] == ["a.mp4", "b.mp4", "c.mp4", "d.mp4", "e.mp4"]
    assert _codes(rows) == ["bad_row", None, None, "bad_row", None]
    first = rows[0].problem
    assert first is not None
    assert "unbalanced quote starting on line 2" in first.message
    assert "lines 3-5" in first.message
    assert rows[1].columns == {"campaign": "x"}
    assert rows[3].problem is not None and "line 5" in rows[3].problem.message


def test_a_quote_open_at_the_end_of_the_file_loses_no_rows(tmp_path: Path) -> None:
    data = b'path,campaign\na.mp4,"spring\nb.mp4,x\nc.mp4,y\n'
    rows = list(read_manifest(_write(tmp_path, "m.csv", data)))
    assert [r.path_text for r in rows] == ["a.mp4", "b.mp4", "c.mp4"]
    assert _codes(rows) == ["bad_row", None, None]
    assert rows[0].problem is not None and "never closed" in rows[0].problem.message


def test_a_quote_that_closes_rows_later_is_caught_too(tmp_path: Path) -> None:
    data = b'path,campaign\na.mp4,"spring\nb.mp4,x\nc.mp4,y"\nd.mp4,z\n'
    rows = list(read_manifest(_write(tmp_path, "m.csv", data)))
    assert [r.path_text for r in rows] == ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]
    assert _codes(rows)[0] == "bad_row"
    assert _codes(rows)[1] is None and _codes(rows)[3] is None


def test_a_single_column_manifest_with_an_open_quote(tmp_path: Path) -> None:
    data = b'path\n"a.mp4\nb.mp4\nc.mp4\n'
    rows = list(read_manifest(_write(tmp_path, "m.csv", data)))
    assert [r.path_text for r in rows] == ["a.mp4", "b.mp4", "c.mp4"]
    assert _codes(rows) == ["bad_row", None, None]


def test_a_real_multi_line_value_is_one_row(tmp_path: Path) -> None:
    data = b'path,notes,campaign\na.mp4,"line one\nline two",spring\nb.mp4,"x\r\ny",z\n'
    rows = list(read_manifest(_write(tmp_path, "m.csv", data)))
    assert [r.path_text for r in rows] == ["a.mp4", "b.mp4"]
    assert rows[0].problem is None
    assert rows[0].columns == {"notes": "line one\nline two", "campaign": "spring"}
    assert rows[1].columns["notes"] == "x\r\ny"


def test_rows_after_a_multi_line_value_keep_their_numbers(tmp_path: Path) -> None:
    data = b'path,notes\na.mp4,"one\ntwo"\n\nb.mp4,ok\n'
    rows = list(read_manifest(_write(tmp_path, "m.csv", data)))
    assert [(r.row, r.path_text) for r in rows] == [(1, "a.mp4"), (2, "b.mp4")]


# 2. one bad row never stops the others


def test_nul_in_a_path_is_that_rows_error(tmp_path: Path) -> None:
    rows = list(read_manifest(_write(tmp_path, "m.csv", b"path\na\x00b.mp4\nok.mp4\n")))
    assert _codes(rows) == ["bad_path", None]
    assert rows[0].problem is not None and "\\x00" in rows[0].problem.message
    assert "\x00" not in rows[0].path_text


def test_a_megabyte_field_is_that_rows_error(tmp_path: Path) -> None:
    big = b"x" * 1_000_000
    data = b"path,note\na.mp4," + big + b"\nb.mp4,fine\n"
    rows = list(read_manifest(_write(tmp_path, "m.csv", data)))
    assert [r.path_text for r in rows] == ["a.mp4", "b.mp4"]
    assert _codes(rows) == ["field_too_large", None]


def test_a_huge_line_is_that_rows_error(tmp_path: Path) -> None:
    data = b"path,note\n" + b"y" * 20_000_000 + b",x\nb.mp4,fine\n"
    rows = list(read_manifest(_write(tmp_path, "m.csv", data)))
    assert len(rows) == 2
    assert _codes(rows) == ["field_too_large", None]
    assert len(rows[0].path_text) < 1000


def test_jsonl_nested_too_deep_is_that_rows_error(tmp_path: Path) -> None:
    deep = b'{"path": "a.mp4", "x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    data = deep + b'\n{"path": "b.mp4"}\n'
    rows = list(read_manifest(_write(tmp_path, "m.jsonl", data)))
    assert _codes(rows) == ["bad_json", None]
    assert rows[1].path_text == "b.mp4"


def test_lone_surrogates_from_json_are_row_errors_with_printable_text(tmp_path: Path) -> None:
    data = (
        b'{"path": "a.mp4", "note": "\\ud800"}\n'
        b'{"path": "b\\udc00.mp4"}\n'
        b'{"path": "c.mp4", "k": {"\\ud83d": ["\\ude00"]}}\n'
        b'{"path": "ok.mp4"}\n'
    )
    rows = list(read_manifest(_write(tmp_path, "m.jsonl", data)))
    assert _codes(rows) == ["bad_encoding", "bad_encoding", "bad_encoding", None]
    for row in rows:
        json.dumps(row.columns, ensure_ascii=False).encode("utf-8")  # no lone surrogates left
        row.path_text.encode("utf-8")
    assert rows[0].columns == {"note": "\\ud800"}


def test_a_surrogate_pair_escape_in_json_is_fine(tmp_path: Path) -> None:
    rows = list(read_manifest(_write(tmp_path, "m.jsonl", b'{"path": "\\ud83d\\ude00.png"}\n')))
    assert rows[0].problem is None and rows[0].path_text == "\U0001f600.png"


def test_jsonl_path_must_be_text(tmp_path: Path) -> None:
    data = b'{"path": ["a.mp4"]}\n{"path": 7}\n{"path": "ok.mp4", "content_type": 3}\n'
    rows = list(read_manifest(_write(tmp_path, "m.jsonl", data)))
    assert _codes(rows) == ["bad_row", "bad_row", "bad_row"]


def test_jsonl_huge_number_is_that_rows_error(tmp_path: Path) -> None:
    data = b'{"path": "a.mp4", "n": ' + b"9" * 10_000 + b'}\n{"path": "b.mp4"}\n'
    rows = list(read_manifest(_write(tmp_path, "m.jsonl", data)))
    assert _codes(rows) == ["bad_json", None]


# 3. duplicate names


def test_a_duplicate_header_name_is_refused_up_front(tmp_path: Path) -> None:
    m = _write(tmp_path, "m.csv", b"path,campaign,path\na.mp4,x,b.mp4\n")
    with pytest.raises(UsageError, match=r"m\.csv.*'path' appears 2 times"):
        read_manifest(m)
    m2 = _write(tmp_path, "m2.csv", b"Path,campaign, path \na.mp4,x,b.mp4\n")
    with pytest.raises(UsageError, match="'path'"):
        read_manifest(m2)


def test_duplicate_keys_in_a_json_row_are_that_rows_error(tmp_path: Path) -> None:
    data = b'{"path": "a.mp4", "path": "b.mp4"}\n{"path": "c.mp4"}\n'
    rows = list(read_manifest(_write(tmp_path, "m.jsonl", data)))
    assert _codes(rows) == ["bad_json", None]
    assert rows[0].problem is not None and "'path'" in rows[0].problem.message


# 4. manifests from other tools


def test_utf16_tab_separated_with_bom_reads(tmp_path: Path) -> None:
    text = "path\tcampaign\r\nsommar.mp4\tété\r\nb.png\tx\r\n"
    m = _write(tmp_path, "m.txt", b"\xff\xfe" + text.encode("utf-16-le"))
    rows = list(read_manifest(m))
    assert [r.path_text for r in rows] == ["sommar.mp4", "b.png"]
    assert rows[0].columns == {"campaign": "été"}


@pytest.mark.parametrize(
    ("codec", "bom"),
    [("utf-16-be", b"\xfe\xff"), ("utf-32-le", b"\xff\xfe\x00\x00"), ("utf-8", b"\xef\xbb\xbf")],
)
def test_other_boms_read(tmp_path: Path, codec: str, bom: bytes) -> None:
    m = _write(tmp_path, "m.csv", bom + "path,c\nå.mp4,1\n".encode(codec))
    (row,) = list(read_manifest(m))
    assert row.path_text == "å.mp4" and row.problem is None


def test_utf16_without_bom_is_recognised(tmp_path: Path) -> None:
    m = _write(tmp_path, "m.csv", "path,c\na.mp4,1\n".encode("utf-16-le"))
    (row,) = list(read_manifest(m))
    assert row.path_text == "a.mp4"


def test_utf16_jsonl_reads(tmp_path: Path) -> None:
    m = _write(tmp_path, "m.jsonl", '\ufeff{"path": "a.mp4"}\n'.encode("utf-16"))
    (row,) = list(read_manifest(m))
    assert row.path_text == "a.mp4"


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_delimiters_are_detected(tmp_path: Path, sep: str) -> None:
    data = f"path{sep}campaign{sep}note\na.mp4{sep}x{sep}1,5\n".encode()
    (row,) = list(read_manifest(_write(tmp_path, "m.csv", data)))
    assert row.path_text == "a.mp4"
    assert row.columns == {"campaign": "x", "note": "1,5"}


def test_a_comma_in_a_semicolon_header_does_not_win(tmp_path: Path) -> None:
    data = b'path;"title, long"\na.mp4;x\n'
    (row,) = list(read_manifest(_write(tmp_path, "m.csv", data)))
    assert row.columns == {"title, long": "x"}


def test_a_latin1_manifest_is_refused_once_with_a_hint(tmp_path: Path) -> None:
    data = "path,campaign\nété.mp4,x\nb.mp4,café\n".encode("latin-1")
    m = _write(tmp_path, "m.csv", data)
    with pytest.raises(UsageError) as info:
        read_manifest(m)
    message = info.value.message
    assert "m.csv" in message and "line 2" in message and "--manifest-encoding latin-1" in message
    assert "\\xe9" in message and _printable(message)
    rows = list(read_manifest(m, encoding="latin-1"))
    assert [r.path_text for r in rows] == ["été.mp4", "b.mp4"]
    assert rows[1].columns == {"campaign": "café"}


def test_an_unknown_encoding_name_is_refused(tmp_path: Path) -> None:
    m = _write(tmp_path, "m.csv", b"path\na.mp4\n")
    with pytest.raises(UsageError, match="unknown --manifest-encoding 'klingon'"):
        read_manifest(m, encoding="klingon")


def test_a_bad_row_in_a_utf8_file_stays_a_row_error(tmp_path: Path) -> None:
    data = "path,c\nété.mp4,x\nbad\xff.mp4,y\nz.mp4,z\n".encode("latin-1")
    data = data.replace(b"\xe9t\xe9", "été".encode())  # the rest is real UTF-8
    rows = list(read_manifest(_write(tmp_path, "m.csv", data)))
    assert _codes(rows) == [None, "bad_encoding", None]
    problem = rows[1].problem
    assert problem is not None and "line 3" in problem.message
    assert rows[1].path_text == "bad\\xff.mp4"


def test_messages_never_carry_raw_control_bytes(tmp_path: Path) -> None:
    utf16 = "pth\tcampaign\r\na\tb\r\n".encode("utf-16-le")
    m = _write(tmp_path, "m.csv", utf16)
    with pytest.raises(UsageError) as info:
        read_manifest(m, encoding="utf-8")
    assert _printable(info.value.message) and "\\x00" in info.value.message
    m2 = _write(tmp_path, "m2.csv", b"pa\x1b[2Jth,x\na,b\n")
    with pytest.raises(UsageError) as info2:
        read_manifest(m2)
    assert _printable(info2.value.message) and "\\x1b" in info2.value.message


# 5. more of the same classes


def test_a_cr_only_file_reads(tmp_path: Path) -> None:
    rows = list(read_manifest(_write(tmp_path, "m.csv", b"path,c\ra.mp4,1\rb.mp4,2\r")))
    assert [r.path_text for r in rows] == ["a.mp4", "b.mp4"]


def test_unnamed_header_cells_get_position_names(tmp_path: Path) -> None:
    (row,) = list(read_manifest(_write(tmp_path, "m.csv", b"path, ,c,\na.mp4,1,2,3\n")))
    assert row.columns == {"column_2": "1", "c": "2", "column_4": "3"}


def test_a_header_of_only_whitespace_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no header"):
        read_manifest(_write(tmp_path, "m.csv", b" , ,\na,b,c\n"))


def test_extremely_many_columns_are_refused_up_front(tmp_path: Path) -> None:
    header = b"path," + b",".join(b"c%d" % i for i in range(100_000))
    with pytest.raises(UsageError, match="columns"):
        read_manifest(_write(tmp_path, "m.csv", header + b"\na.mp4\n"))


def test_prescan_counts_what_the_reader_yields(tmp_path: Path) -> None:
    data = b"path,n\na\x00.mp4,1\nb.mp4," + b"x" * 1_000_000 + b'\n"c.mp4,2\nd.mp4,3\n'
    m = _write(tmp_path, "m.csv", data)
    totals = Totals()
    prescan(m, tmp_path, totals, threading.Event())
    assert totals.rows == len(list(read_manifest(m))) == 4


def test_a_quoted_value_cannot_grow_without_bound(tmp_path: Path) -> None:
    data = b'path,note\na.mp4,"' + b"w\n" * 1500 + b'"\nb.mp4,x\n'
    rows = list(read_manifest(_write(tmp_path, "m.csv", data)))
    assert len(rows) == len(data.splitlines()) - 1  # every data line is a row
    assert rows[0].problem is not None and "not closed in time" in rows[0].problem.message
    assert rows[-2].problem is not None and rows[-2].problem.code == "bad_row"
    assert rows[-1].path_text == "b.mp4" and rows[-1].problem is None
