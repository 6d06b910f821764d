"""Walk a folder and find what can go in a manifest, skipping what the API would refuse.

The walk is depth-first with each directory's entries sorted by name, so the same tree always
gives the same manifest, and only the entries of the directories on the current path are in
memory. Every skipped file or folder is counted under a reason (``SKIP_REASONS``) so the
command can say what it left out and why; the checks are the pre-flight ones
(``batcher.rows.preflight``, ``batcher.rows.sniff``), so every row written passes ``check_row``.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from batcher.config import ALLOWED_TYPES, CATEGORY_CAPS
from batcher.rows.preflight import guess_content_type
from batcher.rows.sniff import mismatch

SKIP_REASONS: dict[str, str] = {
    "unknown_type": "type unknown from the extension",
    "unsupported_media_type": "type not on the MediaMagic allowlist",
    "empty_file": "empty file (0 bytes)",
    "too_large": "over the category size cap",
    "type_mismatch": "bytes are plainly another type than the extension says",
    "unreadable": "unreadable (permission denied or I/O error)",
    "symlink_loop": "symbolic link loop",
    "broken_symlink": "symbolic link to nothing",
    "symlink": "symbolic link (use --follow-symlinks)",
    "not_a_file": "not a regular file (device, socket, FIFO)",
    "hidden": "hidden file or folder (use --hidden)",
    "excluded": "matched --exclude",
    "not_included": "matched no --include",
    "bad_name": "name a manifest cannot carry (not UTF-8, or space at either end)",
}
_KEEP_EXAMPLES = 3


@dataclass(frozen=True)
class ScanOptions:
    include: Sequence[str] = ()
    """Globs a file must match one of (all files when empty)."""
    exclude: Sequence[str] = ()
    """Globs that leave out a file, or a whole folder."""
    follow_symlinks: bool = False
    hidden: bool = False
    allowed_types: Mapping[str, str] = field(default_factory=lambda: dict(ALLOWED_TYPES))
    category_caps: Mapping[str, int] = field(default_factory=lambda: dict(CATEGORY_CAPS))
    ignore: frozenset[str] = frozenset()
    """Absolute paths passed over silently: the manifest being written and its temp file."""


@dataclass(frozen=True)
class ScanEntry:
    path: Path
    """The file as reached from the root (symlinks not resolved)."""
    relative: str
    """Path below the root, with ``/`` separators."""
    content_type: str
    size: int


@dataclass
class SkipLog:
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, relative: str) -> None:
        self.counts[reason] += 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < _KEEP_EXAMPLES:
            shown.append(relative)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def matches(patterns: Sequence[str], relative: str) -> bool:
    """A glob without ``/`` matches the name at any depth (``*.mp4``); with ``/`` it matches
    the whole relative path (``promo/*``, where ``*`` also crosses folders). Case-sensitive,
    like ``find -name``."""
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(relative if "/" in p else name, p) for p in patterns)


@dataclass
class Scanner:
    root: Path
    options: ScanOptions = field(default_factory=ScanOptions)
    skipped: SkipLog = field(default_factory=SkipLog)

    def __iter__(self) -> Iterator[ScanEntry]:
        root_stat = self.root.stat()
        # Identities of the folders on the current path: meeting one again is a loop.
        ancestors: list[tuple[int, int]] = [(root_stat.st_dev, root_stat.st_ino)]
        stack: list[Iterator[os.DirEntry[str]]] = [self._entries(self.root, "")]
        prefixes = [""]
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                prefixes.pop()
                ancestors.pop()
                continue
            relative = prefixes[-1] + entry.name
            kind = self._classify(entry, relative, ancestors)
            if isinstance(kind, ScanEntry):
                yield kind
            elif isinstance(kind, tuple):
                ancestors.append(kind)
                stack.append(self._entries(Path(entry.path), relative))
                prefixes.append(relative + "/")

    def _entries(self, folder: Path, relative: str) -> Iterator[os.DirEntry[str]]:
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            self.skipped.add("unreadable", relative or ".")
            return iter(())
        return iter(entries)

    def _classify(
        self, entry: os.DirEntry[str], relative: str, ancestors: list[tuple[int, int]]
    ) -> ScanEntry | tuple[int, int] | None:
        """A file to list, a folder to enter (its identity), or None (skipped, logged)."""
        opts = self.options
        if opts.ignore and os.path.abspath(entry.path) in opts.ignore:
            return None
        reason = self._name_reason(entry.name, relative)
        if reason is None and entry.is_symlink() and not opts.follow_symlinks:
            reason = "symlink"
        if reason is not None:
            self.skipped.add(reason, relative)
            return None
        try:
            st = os.stat(entry.path)  # follows the link when there is one, by now allowed
        except OSError as exc:
            self.skipped.add(_stat_reason(exc, entry), relative)
            return None
        if stat.S_ISDIR(st.st_mode):
            ident = (st.st_dev, st.st_ino)
            if ident in ancestors:
                self.skipped.add("symlink_loop", relative)
                return None
            return ident
        if opts.include and not matches(opts.include, relative):
            self.skipped.add("not_included", relative)
            return None
        reason, content_type = self._file_reason(Path(entry.path), st)
        if reason is not None:
            self.skipped.add(reason, relative)
            return None
        return ScanEntry(Path(entry.path), relative, content_type, st.st_size)

    def _name_reason(self, name: str, relative: str) -> str | None:
        # The manifest reader strips values and reads UTF-8: such names would not round-trip.
        if name != name.strip() or any("\udc80" <= ch <= "\udcff" for ch in name):
            return "bad_name"
        if name.startswith(".") and not self.options.hidden:
            return "hidden"
        # Folders are excluded here too, so `--exclude node_modules` prunes the whole tree.
        if self.options.exclude and matches(self.options.exclude, relative):
            return "excluded"
        return None

    def _file_reason(self, path: Path, st: os.stat_result) -> tuple[str | None, str]:
        opts = self.options
        if not stat.S_ISREG(st.st_mode):
            return "not_a_file", ""
        content_type = guess_content_type(path)
        if content_type is None:
            return "unknown_type", ""
        category = opts.allowed_types.get(content_type)
        if category is None:
            return "unsupported_media_type", content_type
        if st.st_size == 0:
            return "empty_file", content_type
        if st.st_size > opts.category_caps.get(category, 0):
            return "too_large", content_type
        # Reading the first bytes is also the honest readability test (os.access lies to root).
        try:
            if mismatch(path, content_type) is not None:
                return "type_mismatch", content_type
        except OSError:
            return "unreadable", content_type
        return None, content_type


def _stat_reason(exc: OSError, entry: os.DirEntry[str]) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink_loop"
    if exc.errno == errno.ENOENT and entry.is_symlink():
        return "broken_symlink"
    return "unreadable"
