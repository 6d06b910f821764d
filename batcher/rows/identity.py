"""What makes a manifest row the same row from one run to the next: its identity.

By default the file's resolved path (symlinks followed), so a row inserted above it or rows
reordered do not change it. With ``--key COLUMN`` the value of that column (a DAM ID, say),
so a file that moved or was renamed stays the same asset and keeps its version chain. The
two kinds are prefixed so that switching between them never confuses one for the other.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from batcher.errors import InputError, UsageError
from batcher.rows.manifest import ManifestRow


def resolved_path(row: ManifestRow, base: Path) -> str:
    """The row's file with symlinks resolved (it need not exist)."""
    return os.path.realpath(row.resolve(base))


class PathResolver:
    """``resolved_path`` with the folders' resolution remembered: ``realpath`` costs an
    lstat per path component, the largest cost of deciding a night where nothing changed.
    Only the file itself is looked at each time (a symlinked file is resolved in full)."""

    def __init__(self, base: Path, max_folders: int = 4096) -> None:
        self._base = os.fspath(base)
        self._folders: dict[str, str] = {}
        self._max = max_folders

    def _absolute(self, text: str) -> str:
        """``ManifestRow.resolve`` made absolute, in ``os.path`` terms (no ``Path`` per row:
        that was a sixth of a no-change night's CPU)."""
        if text.startswith("~/"):  # "~draft.png" is a file name, not a home dir
            text = os.path.expanduser(text)  # unchanged if no home directory is known
        return os.path.abspath(os.path.join(self._base, text))

    def resolve(self, row: ManifestRow) -> str:
        path = self._absolute(row.path_text)
        folder, name = os.path.split(path)
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return os.path.realpath(path)
        except OSError:
            return os.path.realpath(path)  # missing or unreadable: pre-flight says why
        real = self._folders.get(folder)
        if real is None:
            if len(self._folders) >= self._max:
                self._folders.clear()
            real = self._folders[folder] = os.path.realpath(folder)
        return os.path.join(real, name)


def identity_key(row: ManifestRow, resolved: str, key_column: str | None) -> str:
    """The journal and history key of a row; raises ``InputError`` for an empty key value."""
    if key_column is None:
        return "path:" + resolved
    if key_column not in row.columns:
        # The header decides this for every row: the whole run is misconfigured.
        known = ", ".join(sorted(str(c) for c in row.columns)) or "none besides path"
        raise UsageError(f"--key {key_column}: the manifest has no such column (others: {known})")
    value = row.columns[key_column]
    text = "" if value is None else str(value).strip()
    if not text:
        raise InputError(f"empty {key_column!r} value (the --key column)", code="missing_key")
    return "key:" + text
