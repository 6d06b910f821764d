"""Merge shard reports into one: every row once, in row order.

Manifest rows are numbered 1..M with no holes, so a row missing below the highest row seen
is a provable gap; with the manifest at hand (``--manifest``, or the one the shards'
journals recorded) the rows above it are counted too, and each line's path must be its
manifest row's. A row in two reports is an overlap (two shards of different N, or a report
given twice). Either refuses the merge: a report that silently lacks rows, or has one twice,
is what merging must never produce.

The reports are indexed first (row → file and byte offset) and copied line by line in row
order, so memory holds a few numbers per row, not the lines.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from batcher.errors import UsageError
from batcher.outcome import ReportLine
from batcher.reporting.filters import ReportFilter
from batcher.reporting.summary import ReportSummary, SummaryBuilder
from batcher.rows.manifest import ManifestRow, read_manifest

_SHOW = 5  # rows named in a refusal; the count says how many more


class MergeRefused(UsageError):
    code = "merge_refused"


@dataclass(frozen=True)
class _Where:
    source: int
    offset: int
    length: int


@dataclass
class MergeIndex:
    """Where each row's line is, and what could not be read."""

    reports: list[Path]
    rows: dict[int, _Where] = field(default_factory=dict)
    overlaps: dict[int, list[int]] = field(default_factory=dict)
    """row → every report (index) that has it, where more than one does"""
    unreadable: list[tuple[Path, int]] = field(default_factory=list)
    """(report, line number) of lines that are not report lines (a run cut mid-write)"""

    def add(self, row: int, where: _Where) -> None:
        first = self.rows.get(row)
        if first is None:
            self.rows[row] = where
        else:
            self.overlaps.setdefault(row, [first.source]).append(where.source)


def _lines(fh: IO[bytes]) -> Iterator[tuple[int, int, bytes]]:
    offset = 0
    for lineno, chunk in enumerate(fh, start=1):
        yield lineno, offset, chunk
        offset += len(chunk)


def index_reports(reports: Sequence[Path]) -> MergeIndex:
    index = MergeIndex(list(reports))
    for source, path in enumerate(reports):
        try:
            fh = path.open("rb")
        except OSError as exc:
            raise UsageError(f"cannot read the report {path}: {exc.strerror}") from None
        with fh:
            for lineno, offset, chunk in _lines(fh):
                if not chunk.strip():
                    continue
                try:
                    if not chunk.endswith(b"\n"):
                        raise ValueError("cut short")
                    row = json.loads(chunk)["row"]
                    if not isinstance(row, int) or row < 1:
                        raise ValueError("no row number")
                except (ValueError, KeyError, TypeError):
                    index.unreadable.append((path, lineno))
                    continue
                index.add(row, _Where(source, offset, len(chunk)))
    return index


def _rows_text(rows: Sequence[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:_SHOW])
    return shown + (f" and {len(rows) - _SHOW} more" if len(rows) > _SHOW else "")


def check(index: MergeIndex, manifest: Path | None) -> None:
    """Raise ``MergeRefused`` for an overlap or a gap this index proves."""
    if index.overlaps:
        rows = sorted(index.overlaps)
        first = index.overlaps[rows[0]]
        names = " and ".join(str(index.reports[s]) for s in first)
        raise MergeRefused(
            f"{len(rows)} rows are in more than one report (rows {_rows_text(rows)}; "
            f"row {rows[0]} is in {names}): were these shards of the same N, each given once?"
        )
    expected = max(index.rows, default=0)
    if manifest is not None:
        expected = _check_manifest(index, manifest)
    missing = [r for r in range(1, expected + 1) if r not in index.rows]
    if missing:
        cut = f"; {len(index.unreadable)} unreadable lines" if index.unreadable else ""
        raise MergeRefused(
            f"{len(missing)} of {expected} rows are in no report (rows {_rows_text(missing)}"
            f"{cut}): is a shard's report missing, or did a shard not finish? "
            "Run that shard again (it resumes), then merge"
        )


def _check_manifest(index: MergeIndex, manifest: Path) -> int:
    """The manifest's row count; no indexed row may lie past it."""
    count = 0
    for row in read_manifest(manifest):
        count = row.row
    extra = sorted(r for r in index.rows if r > count)
    if extra:
        raise MergeRefused(
            f"the reports are not of {manifest}: rows {_rows_text(extra)} are past its end "
            f"({count} rows)"
        )
    return count


def _read(index: MergeIndex, where: _Where, handles: dict[int, IO[bytes]]) -> bytes:
    fh = handles.get(where.source)
    if fh is None:
        fh = handles[where.source] = index.reports[where.source].open("rb")
    fh.seek(where.offset)
    return fh.read(where.length)


def write_merged(index: MergeIndex, out: Path, manifest: Path | None = None) -> ReportSummary:
    """Write every indexed row's line in row order (to a temporary file, then renamed) and
    return the summary of the whole. With ``manifest``, each line's path must be its row's
    (read alongside: both go in row order)."""
    builder = SummaryBuilder()
    manifest_rows: Iterator[ManifestRow] = iter(()) if manifest is None else read_manifest(manifest)
    tmp = out.with_name(out.name + ".merging")
    handles: dict[int, IO[bytes]] = {}
    try:
        with tmp.open("wb") as dst:
            for row in sorted(index.rows):
                data = _read(index, index.rows[row], handles)
                source = index.reports[index.rows[row].source]
                try:
                    line = ReportLine.model_validate_json(data)
                except ValidationError as exc:
                    raise MergeRefused(f"{source}: row {row} is not a report line: {exc}") from None
                if manifest is not None:
                    _same_path(manifest, next(r for r in manifest_rows if r.row == row), line)
                builder.add(line)
                dst.write(data)
        os.replace(tmp, out)
    except OSError as exc:
        raise UsageError(f"cannot write the merged report {out}: {exc.strerror}") from None
    finally:
        for fh in handles.values():
            fh.close()
        tmp.unlink(missing_ok=True)
    return builder.build(out, ReportFilter())


def _same_path(manifest: Path, row: ManifestRow, line: ReportLine) -> None:
    if line.path != row.path_text:
        raise MergeRefused(
            f"the reports are not of {manifest}: its row {row.row} is {row.path_text!r}, "
            f"the report's is {line.path!r}"
        )


def merge(reports: Sequence[Path], out: Path, manifest: Path | None = None) -> ReportSummary:
    if not reports:
        raise UsageError("give at least one report to merge")
    if any(_same_file(r, out) for r in reports):
        raise UsageError(f"the merged report {out} must not be one of the reports merged")
    index = index_reports(reports)
    check(index, manifest)
    return write_merged(index, out, manifest)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
