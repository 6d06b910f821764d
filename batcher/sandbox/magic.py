"""Does a file's content match its declared MIME type? Decided by magic numbers, the way the
service's 415 "does not match the file's real bytes" check works. Pure functions, no I/O."""

from __future__ import annotations

import codecs
from collections.abc import Callable

# How much of the file the prefix checks look at (SVG may start with a long XML prologue).
PREFIX_BYTES = 4096


def _ftyp(head: bytes) -> bool:
    # ISO base media (mp4, mov): a box whose type at offset 4 is "ftyp"; older QuickTime
    # files may start with other atoms, accepted below for video/quicktime.
    return len(head) >= 12 and head[4:8] == b"ftyp"


def _quicktime(head: bytes) -> bool:
    return _ftyp(head) or head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip")


def _riff(head: bytes, form: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == form


def _mp3(head: bytes) -> bool:
    if head[:3] == b"ID3":
        return True
    # MPEG audio frame sync: 11 set bits; layer bits != 00 (00 is reserved).
    return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) != 0


def _adts(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0xFF and head[1] in (0xF1, 0xF9)


def _svg(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    if text.startswith(b"<svg"):
        return True
    return (text.startswith((b"<?xml", b"<!--", b"<!doctype svg"))) and b"<svg" in head.lower()


def _prefix(*magics: bytes) -> Callable[[bytes], bool]:
    return lambda head: any(head.startswith(m) for m in magics)


_CHECKS: dict[str, Callable[[bytes], bool]] = {
    "video/mp4": _ftyp,
    "video/quicktime": _quicktime,
    "video/x-msvideo": lambda h: _riff(h, b"AVI "),
    "video/x-matroska": _prefix(b"\x1a\x45\xdf\xa3"),
    "audio/mpeg": _mp3,
    "audio/wav": lambda h: _riff(h, b"WAVE"),
    "audio/x-wav": lambda h: _riff(h, b"WAVE"),
    "audio/aac": _adts,
    "audio/ogg": _prefix(b"OggS"),
    "image/jpeg": _prefix(b"\xff\xd8\xff"),
    "image/png": _prefix(b"\x89PNG\r\n\x1a\n"),
    "image/gif": _prefix(b"GIF87a", b"GIF89a"),
    "image/webp": lambda h: _riff(h, b"WEBP"),
    "image/svg+xml": _svg,
    "application/pdf": _prefix(b"%PDF-"),
    "application/msword": _prefix(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _prefix(
        b"PK\x03\x04"
    ),
}


def needs_full_content(content_type: str) -> bool:
    """text/plain is judged on every byte (valid UTF-8, no NUL), not on a prefix."""
    return content_type == "text/plain"


def is_plain_text_chunk(
    decoder: codecs.IncrementalDecoder, chunk: bytes, *, final: bool = False
) -> bool:
    """Feed one chunk of a file to a UTF-8 incremental decoder; False once it cannot be text."""
    if b"\x00" in chunk:
        return False
    try:
        decoder.decode(chunk, final=final)
    except UnicodeDecodeError:
        return False
    return True


def is_plain_text(data: bytes) -> bool:
    """Valid UTF-8 without NUL; empty content is not text (it matches nothing)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    return bool(data) and is_plain_text_chunk(decoder, data, final=True)


def matches(content_type: str, head: bytes) -> bool:
    """True if ``head`` (the first PREFIX_BYTES of the file) fits ``content_type``.
    Empty content matches nothing."""
    if not head:
        return False
    if content_type == "text/plain":
        return is_plain_text(head)
    check = _CHECKS.get(content_type)
    return check is not None and check(head)
