"""CSV manifests: delimiter, header, and records that can never swallow rows silently.

* Delimiter: of comma, semicolon, tab and pipe, the one that splits the header into fields
  that include ``path`` (the most fields if several do); comma if none does.
* Header: names are kept as written, except that the known ones are matched loosely
  (" Path " is ``path``); an empty name becomes ``column_N``. A name given twice, more than
  ``MAX_COLUMNS`` columns, or a header with bad bytes or an open quote is refused up front.
* Records: a quoted value may span lines (RFC 4180). An unbalanced quote would otherwise
  swallow every line up to the next quote, so a value that spans lines is taken as an
  unbalanced quote when the quote never closes before the end of the file, spans more than
  ``MAX_RECORD_LINES`` lines or ``MAX_RECORD_CHARS`` characters, or one of its continuation
  lines on its own parses as a row with the header's number of fields. Then the row of its
  first line is a ``bad_row`` error naming the lines, and the swallowed lines are read
  again as rows of their own, with the row numbers they would have had: every data line
  ends as exactly one row.
* A line with no values at all (blank, or only delimiters and spaces) is not a row.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from batcher.errors import InputError, UsageError
from batcher.rows.encoding import SURROGATE, Line, LineSource, marked_bytes, shown
from batcher.rows.record import KNOWN, REQUIRED, ManifestRow, error_row, make_row, where

DELIMITERS = (",", ";", "\t", "|")
MAX_COLUMNS = 1000
MAX_RECORD_LINES = 1000
MAX_RECORD_CHARS = 1024 * 1024
"""A quoted value spanning more than this is taken as an unbalanced quote (bounded memory)."""
_QUOTE = '"'
_PLURAL = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}


def _fields(text: str, delimiter: str) -> list[str]:
    """One physical line parsed on its own (an open quote runs to its end)."""
    try:
        return next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error:
        return []


def _ends_open(text: str, delimiter: str, *, open_: bool) -> bool:
    """Whether a quoted field is still open at the end of ``text``, the way ``csv`` reads
    it: a quote opens a field only at the field's start, ``""`` inside is a quote, and text
    after a closing quote runs on unquoted to the next delimiter."""
    i, n = 0, len(text)
    while True:
        if open_ or (i < n and text[i] == _QUOTE):
            i += 0 if open_ else 1
            open_ = False
            while True:
                j = text.find(_QUOTE, i)
                if j < 0:
                    return True
                if text.startswith(_QUOTE * 2, j):
                    i = j + 2
                    continue
                i = j + 1
                break
        k = text.find(delimiter, i)
        if k < 0:
            return False
        i = k + 1


def _normal(field: str) -> str:
    folded = field.strip().lower()
    return folded if folded in KNOWN else field


def _header(source: Path, lines: LineSource) -> tuple[list[str], str]:
    first = next((line for line in lines if line.text.strip()), None)
    if first is None:
        raise UsageError(f"{source}: the manifest is empty (no header row)")
    if first.too_long:
        raise UsageError(f"{source}: the header line is longer than the limit")
    text = first.text
    bad = marked_bytes(text)
    if bad:
        raise UsageError(
            f"{source}: the header (line {first.number}) has bytes that are not text in this "
            f"encoding ({bad}); give the right one with --manifest-encoding"
        )
    candidates = {d: [_normal(f) for f in _fields(text, d)] for d in DELIMITERS}
    with_path = [d for d in DELIMITERS if REQUIRED in candidates[d]]
    delimiter = max(with_path, key=lambda d: len(candidates[d])) if with_path else ","
    fields = candidates[delimiter]
    if not fields or all(not f.strip() for f in fields):
        raise UsageError(f"{source}: the manifest is empty (no header row)")
    if _ends_open(text, delimiter, open_=False):
        raise UsageError(f"{source}: the header has an unbalanced quote")
    if len(fields) > MAX_COLUMNS:
        raise UsageError(
            f"{source}: the header has {len(fields):,} columns; at most {MAX_COLUMNS:,} are read"
        )
    if REQUIRED not in fields:
        import difflib

        hint = difflib.get_close_matches(REQUIRED, fields, n=1, cutoff=0.5)
        guess = f"; is {shown(hint[0])!r} a misspelling of 'path'?" if hint else ""
        found = shown(", ".join(fields))
        raise UsageError(f"{source}: the header has no 'path' column (found: {found}){guess}")
    fields = [f if f.strip() else f"column_{i}" for i, f in enumerate(fields, 1)]
    twice = [name for name, count in Counter(fields).items() if count > 1]
    if twice:
        positions = [str(i) for i, f in enumerate(fields, 1) if f == twice[0]]
        raise UsageError(
            f"{source}: column {shown(twice[0])!r} appears {len(positions)} times in the "
            f"header (columns {', '.join(positions)}); each name must be given once"
        )
    return fields, delimiter


class _Rows:
    def __init__(self, source: Path, lines: LineSource, codec: str) -> None:
        self.source = source
        self.lines = lines
        self.codec = codec
        self.fields, self.delimiter = _header(source, lines)
        self.n = 0

    def __iter__(self) -> Iterator[ManifestRow]:
        for line in self.lines:
            if not line.text.strip():
                continue
            if line.too_long:
                yield self._too_long(line)
                continue
            if _QUOTE in line.text and _ends_open(line.text, self.delimiter, open_=False):
                yield from self._multi_line(line)
                continue
            yield from self._record([line])

    def _next_n(self) -> int:
        self.n += 1
        return self.n

    def _too_long(self, line: Line) -> ManifestRow:
        head = line.text[:200].split(self.delimiter, 1)[0]
        problem = InputError(
            f"line {line.number} is longer than the limit; a value this large cannot be a "
            "manifest field",
            code="field_too_large",
        )
        return error_row(self._next_n(), problem, head)

    def _multi_line(self, first: Line) -> Iterator[ManifestRow]:
        span = [first]
        swallowed = False
        open_ = True
        size = len(first.text)
        capped = False
        for line in self.lines:
            if line.too_long:
                self.lines.push_back([line])
                capped = True
                break
            span.append(line)
            size += len(line.text)
            if len(_fields(line.text, self.delimiter)) == len(self.fields):
                swallowed = True
            open_ = _ends_open(line.text, self.delimiter, open_=True)
            if not open_:
                break
            if len(span) > MAX_RECORD_LINES or size > MAX_RECORD_CHARS:
                capped = True
                break
        if not open_ and not swallowed:
            yield from self._record(span)
            return
        rest = span[1:]
        if not rest:
            reason = f"an unbalanced quote on line {first.number} is never closed"
        elif open_:
            reason = (
                f"an unbalanced quote starting on line {first.number} is "
                f"{'not closed in time' if capped else 'never closed'}; it "
                f"would swallow {where(rest[0].number, rest[-1].number)}"
            )
        else:
            reason = (
                f"an unbalanced quote starting on line {first.number} swallowed "
                f"{where(rest[0].number, rest[-1].number)}"
            )
        if rest:
            more = len(rest) > 1
            reason += "; they are read as rows" if more else "; it is read as a row"
            reason += " of their own" if more else " of its own"
        self.lines.push_back(rest)
        values = [v.rstrip("\r\n") for v in _fields(first.text, self.delimiter)]
        row = self._build(
            values, first.number, first.number, SURROGATE.search(first.text) is not None
        )
        yield ManifestRow(
            row.row,
            row.path_text,
            row.content_type,
            row.previous_submission_id,
            row.columns,
            InputError(reason, code="bad_row"),  # the likely cause of anything else wrong
        )

    def _record(self, span: list[Line]) -> Iterator[ManifestRow]:
        lo, hi = span[0].number, span[-1].number
        try:
            records = list(csv.reader((x.text for x in span), delimiter=self.delimiter))
        except csv.Error as exc:
            large = "field limit" in str(exc)
            problem = InputError(
                f"{where(lo, hi)}: " + ("a field is too large" if large else shown(str(exc))),
                code="field_too_large" if large else "bad_row",
            )
            head = span[0].text[:200].split(self.delimiter, 1)[0]
            yield error_row(self._next_n(), problem, head)
            return
        values = records[0] if len(records) == 1 else [v for r in records for v in r]
        if all(not v.strip() for v in values):
            return  # only delimiters: not a row
        suspect = any(SURROGATE.search(x.text) for x in span)
        yield self._build(values, lo, hi, suspect)

    def _build(self, values: list[str], lo: int, hi: int, suspect: bool) -> ManifestRow:
        extra = len(values) - len(self.fields)
        record: dict[str, str | None] = dict(zip(self.fields, values, strict=False))
        record.update({f: None for f in self.fields[len(values) :]})
        row = make_row(
            self._next_n(), record, where=where(lo, hi), codec=self.codec, suspect=suspect
        )
        if extra > 0 and row.problem is None:
            sep = _PLURAL[self.delimiter]
            problem = InputError(
                f"{where(lo, hi)}: row has {extra} more field(s) than the header; "
                f"quote values that contain {sep}",
                code="bad_row",
            )
            row = ManifestRow(
                row.row, row.path_text, row.content_type, row.previous_submission_id,
                row.columns, problem,
            )  # fmt: skip
        return row


def csv_rows(source: Path, lines: LineSource, codec: str) -> Iterator[ManifestRow]:
    """The header is read (and refused, ``UsageError``) on the first ``next``."""
    yield from _Rows(source, lines, codec)
