"""Manifest rows: CSV with a header, or JSON Lines (``.jsonl``, ``.ndjson``, ``.json``);
the formats are described in the README's Manifest section.

Rows are read lazily so a million-row manifest costs no memory up front. The promise: every
data line of the manifest becomes exactly one ``ManifestRow``; a row that cannot be used
carries ``problem`` (the report says which line and why) and the rest go on. Only a
manifest that cannot be read at all raises ``UsageError`` (exit 2), before the first row.

How bytes become text: ``encoding.py``. CSV dialects and unbalanced quotes:
``manifest_csv.py``. JSON Lines: ``manifest_jsonl.py``. Checks shared by both: ``record.py``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import IO

from batcher.errors import UsageError
from batcher.rows.encoding import LineSource, choose, judge_utf8
from batcher.rows.manifest_csv import csv_rows
from batcher.rows.manifest_jsonl import jsonl_rows
from batcher.rows.record import KNOWN, REQUIRED, ManifestRow

__all__ = ["JSONL_SUFFIXES", "KNOWN", "REQUIRED", "ManifestRow", "read_manifest"]

JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}


def _rows(source: Path, fh: IO[bytes], encoding: str | None, judge: bool) -> Generator[ManifestRow]:
    decoding = choose(fh.read(4), encoding)
    if decoding.judge_utf8 and judge:
        fh.seek(0)
        judge_utf8(fh, source)
    fh.seek(decoding.skip)
    lines = LineSource(fh, decoding.codec)
    try:
        if source.suffix.lower() in JSONL_SUFFIXES:
            yield from jsonl_rows(lines, decoding.codec)
        else:
            yield from csv_rows(source, lines, decoding.codec)
    finally:
        lines.close()


def _open(source: Path) -> IO[bytes]:
    try:
        return source.open("rb")
    except OSError as exc:
        raise UsageError(f"cannot read manifest {source}: {exc.strerror}") from None


def read_manifest(source: Path, *, encoding: str | None = None) -> Iterator[ManifestRow]:
    """Yield rows lazily. Raises ``UsageError`` before the first row if unusable.

    ``encoding``: a codec name, or None / "auto" (byte-order mark, else UTF-8)."""
    if not source.is_file():
        raise UsageError(f"manifest not found or not a file: {source}")
    # Checked here, read again when iterated: an iterator that is never used (the run
    # stopped before reading) then holds no open file.
    with _open(source) as fh:
        check = _rows(source, fh, encoding, judge=True)
        try:
            first = next(check, None)
        except OSError as exc:
            raise UsageError(f"cannot read manifest {source}: {exc.strerror}") from None
        finally:
            check.close()
    if first is None:
        raise UsageError(f"{source}: the manifest has no data rows")
    return _lazily(source, encoding)


def _lazily(source: Path, encoding: str | None) -> Iterator[ManifestRow]:
    with _open(source) as fh:
        yield from _rows(source, fh, encoding, judge=False)
