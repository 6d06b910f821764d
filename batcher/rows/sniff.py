"""A light pre-flight look at a file's first bytes: is it plainly not what the row declares?

The service refuses (415) bytes that do not match the declared type, but only at submission,
after the upload. This catches the plain cases early (a PDF named ``.png``). It is lenient on
purpose: the service is the judge, so a file is refused here only when its bytes are clearly
another known format, or lack a signature its type always has.
"""

from __future__ import annotations

from pathlib import Path

HEAD_BYTES = 64

# Formats recognisable by a fixed prefix (offset 0).
_PREFIXES: list[tuple[bytes, str]] = [
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"%PDF-", "pdf"),
    (b"PK\x03\x04", "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"\x1a\x45\xdf\xa3", "matroska"),
    (b"OggS", "ogg"),
    (b"ID3", "mp3"),
]
_RIFF = {b"AVI ": "avi", b"WAVE": "wav", b"WEBP": "webp"}

# The formats each declared type may be. Types absent here are not checked.
_COMPATIBLE: dict[str, set[str]] = {
    "image/png": {"png"},
    "image/jpeg": {"jpeg"},
    "image/gif": {"gif"},
    "image/webp": {"webp"},
    "application/pdf": {"pdf"},
    "application/msword": {"ole"},
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {"zip"},
    "video/x-matroska": {"matroska"},
    "video/x-msvideo": {"avi"},
    "audio/wav": {"wav"},
    "audio/x-wav": {"wav"},
    "audio/ogg": {"ogg"},
}
# Declared types with no single signature: refused only if the bytes are another format.
_LOOSE: dict[str, set[str]] = {
    "video/mp4": {"iso-bmff"},
    "video/quicktime": {"iso-bmff"},
    "audio/mpeg": {"mp3"},
    "audio/aac": set(),
    "image/svg+xml": set(),
    "text/plain": set(),
}


def identify(head: bytes) -> str | None:
    for prefix, name in _PREFIXES:
        if head.startswith(prefix):
            return name
    if head[:4] == b"RIFF" and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    if head[4:8] == b"ftyp":
        return "iso-bmff"
    return None


def mismatch(path: Path, content_type: str) -> str | None:
    """A reason the bytes are plainly not ``content_type``, or None."""
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    found = identify(head)
    if content_type in _COMPATIBLE:
        if found not in _COMPATIBLE[content_type]:
            what = f"look like {found}" if found else "lack its signature"
            return f"declared {content_type} but the bytes {what}"
        return None
    if content_type in _LOOSE and found is not None and found not in _LOOSE[content_type]:
        return f"declared {content_type} but the bytes look like {found}"
    if content_type == "text/plain" and b"\x00" in head:
        return "declared text/plain but the file holds binary data"
    return None
