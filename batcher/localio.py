"""The ONE place where a failed local write (report, journal, log file, summary) becomes
``DiskFullError``: no room (ENOSPC, EDQUOT, SQLite's SQLITE_FULL, which is also what
``PRAGMA max_page_count`` raises) or a failing device (EIO, SQLITE_IOERR). Any other OSError
or SQLite error is left as it is, for its caller to name (permissions are a usage error).
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike

from batcher.errors import DiskFullError

_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13
_SQLITE_IOERR = 10


def _kind(exc: BaseException) -> str | None:
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF  # extended → primary
        text = str(exc)
        if code == _SQLITE_FULL or "disk is full" in text:
            return "disk full"
        if code == _SQLITE_IOERR or "disk I/O error" in text:
            return "I/O error"
        return None
    if isinstance(exc, OSError):
        if exc.errno in _NO_ROOM:
            return "disk full"
        if exc.errno == errno.EIO:
            return "I/O error"
    return None


def disk_error(exc: BaseException, path: str | PathLike[str], what: str) -> DiskFullError | None:
    """``exc`` as a DiskFullError naming ``what`` and ``path``, or None if it is not one."""
    kind = _kind(exc)
    if kind is None:
        return None
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return DiskFullError(f"{kind}: cannot write the {what} {path} ({reason})", path=str(path))


def is_disk_error(exc: BaseException) -> bool:
    return _kind(exc) is not None


@contextmanager
def local_write(path: str | PathLike[str], what: str) -> Iterator[None]:
    """Writes to ``path`` inside: no room or a failing device raise DiskFullError."""
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        error = disk_error(exc, path, what)
        if error is None:
            raise
        raise error from None
