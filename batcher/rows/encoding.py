"""Manifest bytes → numbered text lines: encoding, byte-order marks, long lines, escaping.

The encoding (``--manifest-encoding``, default ``auto``):

* ``auto``: a byte-order mark decides (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE); with none, text
  that starts as ASCII with a NUL beside every character is UTF-16/32 without a mark
  (Excel's "Unicode text" sometimes drops it); anything else is read as UTF-8.
  A UTF-8 file with bad bytes is judged once, before the first row: if nothing in it is
  valid non-ASCII UTF-8 and the header, or more than one line, has bad bytes, it is in
  another encoding (Latin-1, Windows-1252 ...) and is refused with the first bad line and a
  ``--manifest-encoding`` suggestion. Otherwise it is UTF-8 with damaged rows: each line
  with bad bytes becomes that row's ``bad_encoding`` error.
* a codec name: used as given (a mark of that codec is skipped); bytes it cannot decode
  make their row a ``bad_encoding`` error.

Undecodable bytes are kept as lone surrogates U+DC00+byte (``MARK_HANDLER``), so a row can
tell it had them and messages can show them as ``\\xNN``.
"""

from __future__ import annotations

import codecs
import io
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple

from batcher.errors import UsageError

MAX_LINE_CHARS = 8 * 1024 * 1024
"""A physical line longer than this is cut off (bounded memory) and its row is an error."""

MARK_HANDLER = "batcher-mark-bytes"


def _mark_bytes(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(chr(0xDC00 + b) for b in bad), exc.end


# An error handler is the only hook the codecs offer; registering the same pure function
# under a private name is idempotent, so it holds no state that could differ between runs.
codecs.register_error(MARK_HANDLER, _mark_bytes)

_BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
SURROGATE = re.compile("[\ud800-\udfff]")
_MARKED = re.compile("[\udc00-\udcff]")
_VALID_NON_ASCII = re.compile("[\u0080-\ud7ff\ue000-\U0010ffff]")
_SHOWN = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def shown(text: str, limit: int = 300) -> str:
    """``text`` safe to print: control and invisible characters and undecodable bytes
    escaped (``\\x00``, ``\\u202e``), cut to ``limit`` characters."""
    cut = text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"
    if cut.isprintable():
        return cut
    out = []
    for ch in cut:
        code = ord(ch)
        if ch.isprintable():
            out.append(ch)
        elif ch in _SHOWN:
            out.append(_SHOWN[ch])
        elif 0xDC00 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def without_surrogates(text: str) -> str:
    """Lone surrogates (cannot be written as UTF-8) escaped; everything else as it was."""
    if SURROGATE.search(text) is None:
        return text
    return SURROGATE.sub(lambda m: shown(m.group()), text)


def marked_bytes(text: str) -> str | None:
    """The undecodable bytes in ``text``, shown as ``\\xNN``, or None."""
    found = _MARKED.findall(text)
    return shown("".join(found[:8])) if found else None


class Line(NamedTuple):  # a tuple: one is made per physical line
    number: int
    """1-based physical line of the file."""
    text: str
    """With its line ending; cut to ``MAX_LINE_CHARS`` if ``too_long``."""
    too_long: bool = False


@dataclass(frozen=True)
class Decoding:
    codec: str
    skip: int
    """Bytes of byte-order mark to skip."""
    judge_utf8: bool
    """Auto mode fell back to UTF-8: judge the whole file before reading rows."""


def choose(head: bytes, encoding: str | None) -> Decoding:
    if encoding not in (None, "", "auto"):
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            raise UsageError(
                f"unknown --manifest-encoding {encoding!r} (try utf-8, latin-1, cp1252, utf-16)"
            ) from None
        skip = next((len(bom) for bom, name in _BOMS if head.startswith(bom) and name == codec), 0)
        return Decoding(codec, skip, judge_utf8=False)
    for bom, name in _BOMS:
        if head.startswith(bom):
            return Decoding(name, len(bom), judge_utf8=False)
    b = head[:4].ljust(4, b"\x01")
    if b[0] and not b[1] and not b[2] and not b[3]:
        return Decoding("utf-32-le", 0, judge_utf8=False)
    if not b[0] and not b[1] and not b[2] and b[3]:
        return Decoding("utf-32-be", 0, judge_utf8=False)
    if b[0] and not b[1] and b[2] and not b[3]:
        return Decoding("utf-16-le", 0, judge_utf8=False)
    if not b[0] and b[1] and not b[2] and b[3]:
        return Decoding("utf-16-be", 0, judge_utf8=False)
    return Decoding("utf-8", 0, judge_utf8=True)


def _count_breaks(text: str, start: int, end: int) -> int:
    return (
        text.count("\n", start, end) + text.count("\r", start, end) - text.count("\r\n", start, end)
    )


def judge_utf8(fh: IO[bytes], source: Path) -> None:
    """Refuse a file that is not UTF-8 at all (see the module docstring); one pass, in C
    for the common case of a clean file."""
    decoder = codecs.getincrementaldecoder("utf-8")(MARK_HANDLER)
    line, pending = 1, ""
    first: tuple[int, str] | None = None
    bad_lines = 0
    valid_non_ascii = False
    while True:
        chunk = fh.read(1 << 20)
        text = pending + decoder.decode(chunk, final=not chunk)
        pending = ""
        if chunk and text.endswith("\r"):  # "\r\n" split across chunks counts once
            text, pending = text[:-1], "\r"
        if not valid_non_ascii and _VALID_NON_ASCII.search(text):
            valid_non_ascii = True
        cursor = 0
        for m in _MARKED.finditer(text) if bad_lines < 2 else ():
            line += _count_breaks(text, cursor, m.start())
            cursor = m.start()
            if first is None:
                first = (line, text[m.start() : m.start() + 4])
                bad_lines = 1
            elif line != first[0]:
                bad_lines = 2
                break
        line += _count_breaks(text, cursor, len(text))
        if not chunk:
            break
    if first is None or valid_non_ascii or (bad_lines < 2 and first[0] != 1):
        return
    sample = marked_bytes(first[1]) or ""
    raise UsageError(
        f"{source} is not UTF-8: line {first[0]} has the byte(s) {sample}, and nothing in it "
        "reads as UTF-8. Give its encoding, e.g. --manifest-encoding latin-1 (or cp1252 for "
        "Windows files)"
    )


class LineSource:
    """Physical lines of a decoded manifest, with room to put lines back: a record that
    swallowed lines gives them back to be read again as rows of their own."""

    def __init__(self, fh: IO[bytes], codec: str) -> None:
        self._text = io.TextIOWrapper(fh, encoding=codec, errors=MARK_HANDLER, newline="")
        self._number = 0
        self._back: deque[Line] = deque()

    def close(self) -> None:
        """Closes the file too."""
        self._text.close()

    def push_back(self, lines: list[Line]) -> None:
        self._back.extendleft(reversed(lines))

    def __iter__(self) -> Iterator[Line]:
        return self

    def __next__(self) -> Line:
        if self._back:
            return self._back.popleft()
        text = self._text.readline(MAX_LINE_CHARS)
        if not text:
            raise StopIteration
        self._number += 1
        if self._number == 1:
            text = text.removeprefix("\ufeff")
        if len(text) < MAX_LINE_CHARS or text.endswith(("\n", "\r")):
            return Line(self._number, text)
        rest = text
        while rest and not rest.endswith(("\n", "\r")):  # drop the rest of the line
            rest = self._text.readline(MAX_LINE_CHARS)
        return Line(self._number, text, too_long=True)
