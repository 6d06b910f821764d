"""Pre-flight checks: refuse locally what the API would refuse, before spending bandwidth.

Each check names the reason; the row goes to the report as ``status: error`` with
``stage: preflight`` and the rest of the batch goes on.
"""

from __future__ import annotations

import errno
import mimetypes
import os
import stat
from pathlib import Path

from batcher.config import ALLOWED_TYPES, Settings
from batcher.errors import InputError
from batcher.outcome import RowJob
from batcher.rows.encoding import shown
from batcher.rows.manifest import ManifestRow
from batcher.rows.sniff import mismatch

# mimetypes knows some types under other names than the API's allowlist.
_ALIASES = {"audio/x-wav": "audio/x-wav", "audio/vnd.wave": "audio/wav", "audio/mp3": "audio/mpeg"}
_EXTRA_GUESSES = {
    ".mkv": "video/x-matroska",
    ".webp": "image/webp",
    ".m4a": "audio/aac",
    ".aac": "audio/aac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".wav": "audio/wav",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def guess_content_type(path: Path) -> str | None:
    ext = path.suffix.lower()
    if ext in _EXTRA_GUESSES:
        return _EXTRA_GUESSES[ext]
    guessed, _ = mimetypes.guess_type(path.name, strict=False)
    return _ALIASES.get(guessed or "", guessed)


def _stat(path: Path) -> os.stat_result:
    where = shown(str(path))
    try:
        return path.stat()
    except FileNotFoundError:
        raise InputError(f"file not found: {where}", code="file_not_found") from None
    except PermissionError:
        raise InputError(f"permission denied: {where}", code="unreadable") from None
    except ValueError:  # an embedded NUL: no file can have this name
        raise InputError(f"not a usable path: {where}", code="bad_path") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"symlink loop: {where}", code="symlink_loop") from None
        if exc.errno == errno.ENAMETOOLONG:
            raise InputError(
                f"path too long for the file system ({len(str(path)):,} characters): {where}",
                code="bad_path",
            ) from None
        raise InputError(f"cannot stat {where}: {exc.strerror}", code="unreadable") from None


def check_row(row: ManifestRow, base: Path, settings: Settings) -> tuple[RowJob, InputError | None]:
    """Turn a manifest row into a job ready to upload, or the reason it cannot be."""
    job = RowJob(row=row.row, path_text=row.path_text, columns=row.columns)
    try:
        _check(job, row, base, settings)
    except InputError as exc:
        return job, exc
    return job, None


def _check(job: RowJob, row: ManifestRow, base: Path, settings: Settings) -> None:
    if row.problem is not None:
        raise row.problem
    path = row.resolve(base)
    job.path = path
    st = _stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"is a directory, not a file: {shown(str(path))}", code="not_a_file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"not a regular file: {shown(str(path))}", code="not_a_file")
    if not os.access(path, os.R_OK):
        raise InputError(f"permission denied: {shown(str(path))}", code="unreadable")
    job.size = st.st_size
    job.mtime_ns = st.st_mtime_ns
    declared = (row.content_type or "").lower() or None
    content_type = declared or guess_content_type(path)
    job.content_type = content_type
    if content_type is None:
        raise InputError(
            f"cannot tell the content type of {shown(path.name)!r}; add a content_type column",
            code="unknown_type",
        )
    category = ALLOWED_TYPES.get(content_type)
    if category is None:
        raise InputError(
            f"content type {content_type!r} is not on the MediaMagic allowlist",
            code="unsupported_media_type",
        )
    if st.st_size == 0:
        raise InputError("file is empty (0 bytes)", code="empty_file")
    cap = settings.category_caps[category]
    if st.st_size > cap:
        raise InputError(
            f"{st.st_size:,} bytes is over the {category} cap of {cap:,} bytes",
            code="too_large",
        )
    try:
        reason = mismatch(path, content_type)
    except OSError as exc:
        raise InputError(
            f"cannot read {shown(str(path))}: {exc.strerror}", code="unreadable"
        ) from None
    if reason is not None:
        raise InputError(reason, code="type_mismatch")
    job.previous_submission_id = row.previous_submission_id
    job.upload_method = "direct" if st.st_size <= settings.direct_max_bytes else "presigned"
