"""Manifest rows: CSV with a header (UTF-8, BOM tolerated) or JSON Lines (README, Manifest).

Rows are read lazily so a million-row manifest costs no memory up front. A row that cannot
be used becomes a ``RowJob`` with ``problem`` set (the report says why); only a manifest
that cannot be read at all raises ``UsageError`` (exit 2).
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batcher.errors import InputError, UsageError

REQUIRED = "path"
KNOWN = ("path", "content_type", "previous_submission_id")
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}


@dataclass(frozen=True)
class ManifestRow:
    row: int
    """1-based data row (the header and blank lines are not counted)."""
    path_text: str
    content_type: str | None
    previous_submission_id: str | None
    columns: dict[str, Any]
    problem: InputError | None = None

    def resolve(self, base: Path) -> Path:
        p = Path(self.path_text)
        if self.path_text.startswith("~/"):  # "~draft.png" is a file name, not a home dir
            with contextlib.suppress(RuntimeError):  # no home directory known
                p = p.expanduser()
        return p if p.is_absolute() else base / p


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


_SURROGATES = re.compile("[\udc80-\udcff]")  # undecodable bytes, as surrogateescape keeps them


def _has_surrogates(text: str) -> bool:
    return _SURROGATES.search(text) is not None


def _make_row(n: int, record: dict[str, Any]) -> ManifestRow:
    known = {k: _text(record.get(k)) for k in KNOWN}
    columns = {k: v for k, v in record.items() if k not in KNOWN and k is not None}
    path_text = known["path"] or ""
    problem = None
    raw = " ".join(str(v) for v in record.values() if v is not None)
    if _has_surrogates(raw):
        problem = InputError("row is not valid UTF-8", code="bad_encoding")
        path_text = path_text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        columns = {
            k: str(v).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            for k, v in columns.items()
        }
    elif not path_text:
        problem = InputError("empty 'path' value", code="missing_path")
    return ManifestRow(
        row=n,
        path_text=path_text,
        content_type=known["content_type"],
        previous_submission_id=known["previous_submission_id"],
        columns=columns,
        problem=problem,
    )


def _normal(field: str) -> str:
    folded = field.strip().lower()
    return folded if folded in KNOWN else field


def _check_header(fields: list[str] | None, source: Path) -> None:
    if not fields or all(not f.strip() for f in fields):
        raise UsageError(f"{source}: the manifest is empty (no header row)")
    if REQUIRED not in fields:
        hint = difflib.get_close_matches(REQUIRED, fields, n=1, cutoff=0.5)
        guess = f"; is {hint[0]!r} a misspelling of 'path'?" if hint else ""
        raise UsageError(
            f"{source}: the header has no 'path' column (found: {', '.join(fields)}){guess}"
        )


def _csv_rows(source: Path) -> Iterator[ManifestRow]:
    # surrogateescape: one row with bad bytes must not make the whole manifest unreadable.
    with source.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
        reader = csv.DictReader(fh)
        # " Path " and "PATH" are meant as "path"; other columns keep their names.
        fields = [_normal(f) for f in reader.fieldnames or []]
        reader.fieldnames = fields
        _check_header(fields, source)
        n = 0
        for record in reader:
            values = [v for k, v in record.items() if k is not None]
            if all(v is None or not str(v).strip() for v in values):
                continue  # blank or all-empty line
            n += 1
            extra = record.pop(None, None)
            row = _make_row(n, dict(record))
            if extra and row.problem is None:
                row = ManifestRow(
                    row.row,
                    row.path_text,
                    row.content_type,
                    row.previous_submission_id,
                    row.columns,
                    InputError(
                        f"row has {len(extra)} more field(s) than the header; "
                        "quote values that contain commas",
                        code="bad_row",
                    ),
                )
            yield row


def _jsonl_rows(source: Path) -> Iterator[ManifestRow]:
    with source.open("rb") as fh:
        n = 0
        for raw in fh:
            if n == 0:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            n += 1
            try:
                record = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                yield ManifestRow(
                    n, "", None, None, {}, InputError(f"not valid JSON: {exc}", code="bad_json")
                )
                continue
            if not isinstance(record, dict):
                yield ManifestRow(
                    n,
                    "",
                    None,
                    None,
                    {},
                    InputError("a JSON Lines row must be an object", code="bad_json"),
                )
                continue
            yield _make_row(n, record)


def read_manifest(source: Path) -> Iterator[ManifestRow]:
    """Yield rows lazily. Raises ``UsageError`` before the first row if unusable."""
    if not source.is_file():
        raise UsageError(f"manifest not found or not a file: {source}")
    try:
        reader = (
            _jsonl_rows(source) if source.suffix.lower() in JSONL_SUFFIXES else _csv_rows(source)
        )
        first = next(reader, None)
    except OSError as exc:
        raise UsageError(f"cannot read manifest {source}: {exc.strerror}") from None
    except csv.Error as exc:
        raise UsageError(f"{source}: not a readable CSV file: {exc}") from None
    if first is None:
        raise UsageError(f"{source}: the manifest has no data rows")
    return _chain(first, reader)


def _chain(first: ManifestRow, rest: Iterator[ManifestRow]) -> Iterator[ManifestRow]:
    yield first
    yield from rest
