"""``batcher manifest DIR``: write a manifest of every file in a folder the API would accept,
and say on stderr what was left out and why.

The manifest is written beside its target and renamed into place, so an interrupted scan
never leaves half a manifest that a later run would upload as if it were whole.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from batcher.progress.streams import safe
from batcher.reporting.summary import human_bytes
from batcher.rows.scan import SKIP_REASONS, ScanEntry, Scanner, ScanOptions, SkipLog
from batcher.summary import EXIT_OK, EXIT_USAGE

STDOUT = "-"
COLUMNS = ("path", "content_type", "bytes")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="batcher manifest",
        description="Walk DIR (sorted, so the output is the same every time) and write a CSV "
        "manifest (path, content_type, bytes) of the files MediaMagic would accept. Skipped "
        "files are counted on stderr by reason: unknown or not allowlisted type, empty, over "
        "the category cap, unreadable, symlink loops, hidden.",
    )
    p.add_argument("dir", type=Path, metavar="DIR", help="the folder to scan")
    p.add_argument(
        "-o",
        "--output",
        default="manifest.csv",
        metavar="PATH",
        help="manifest to write (default manifest.csv; '-' for stdout). Paths in it are "
        "relative to its folder when below it, else absolute",
    )
    p.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="only files matching (repeatable); a GLOB without '/' matches the file name at "
        "any depth, e.g. '*.mp4'; with '/' the path below DIR, e.g. 'tv/*'",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="leave out matching files and folders (repeatable), e.g. 'drafts' or '*.tmp'",
    )
    p.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="follow symbolic links to files and folders (loops are detected and skipped)",
    )
    p.add_argument("--hidden", action="store_true", help="include hidden files and folders")
    return p


def manifest_path_text(file: Path, base: Path) -> str:
    """``file`` relative to ``base`` when below it, else absolute (both made absolute)."""
    absolute = Path(os.path.abspath(file))
    try:
        text = absolute.relative_to(base).as_posix()
    except ValueError:
        return str(absolute)
    # The reader expands a leading "~" (even after "./"); an absolute path is taken as is.
    return str(absolute) if text.startswith("~") else text


def write_manifest(
    entries: Scanner, out: TextIO, base: Path, categories: Counter[str]
) -> tuple[int, int]:
    """Write the rows as the walk yields them; returns (rows, bytes)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    rows = size = 0
    for entry in entries:
        writer.writerow((manifest_path_text(entry.path, base), entry.content_type, entry.size))
        rows += 1
        size += entry.size
        categories[_category(entries, entry)] += 1
    return rows, size


def _category(scanner: Scanner, entry: ScanEntry) -> str:
    return scanner.options.allowed_types.get(entry.content_type, "other")


def describe_skips(log: SkipLog) -> list[str]:
    """The stderr lines: one per reason, with a count and the first few paths."""
    if not log.total:
        return ["skipped nothing"]
    lines = [f"skipped {log.total:,}:"]
    width = max(len(SKIP_REASONS.get(r, r)) for r in log.counts)
    for reason, n in sorted(log.counts.items(), key=lambda kv: (-kv[1], kv[0])):
        shown = log.examples.get(reason, [])
        more = ", …" if n > len(shown) else ""
        label = SKIP_REASONS.get(reason, reason)
        lines.append(f"  {label:<{width}} {n:>6,}  {', '.join(shown)}{more}")
    return lines


def _scan(args: argparse.Namespace, err: TextIO) -> int:
    output = None if args.output == STDOUT else Path(args.output)
    tmp = None if output is None else output.with_name(f".{output.name}.tmp")
    options = ScanOptions(
        include=tuple(args.include),
        exclude=tuple(args.exclude),
        follow_symlinks=args.follow_symlinks,
        hidden=args.hidden,
        # A manifest written inside DIR must not list itself (or its temp file).
        ignore=frozenset(os.path.abspath(p) for p in (output, tmp) if p is not None),
    )
    scanner = Scanner(args.dir, options)
    categories: Counter[str] = Counter()
    if output is None or tmp is None:
        rows, size = write_manifest(scanner, sys.stdout, Path(os.getcwd()), categories)
        target = "stdout"
    else:
        base = Path(os.path.abspath(output)).parent
        try:
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                rows, size = write_manifest(scanner, fh, base, categories)
            os.replace(tmp, output)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            err.write(f"Error: cannot write {output}: {exc.strerror}\n")
            return EXIT_USAGE
        target = str(output)
    kinds = ", ".join(f"{c} {n:,}" for c, n in sorted(categories.items()))
    err.write(
        f"wrote {target}: {rows:,} files, {human_bytes(size)}"
        + (f" ({kinds})\n" if kinds else "\n")
    )
    err.write("\n".join(describe_skips(scanner.skipped)) + "\n")
    return EXIT_OK


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    if not args.dir.is_dir():
        sys.stderr.write(f"Error: not a directory: {args.dir}\n")
        return EXIT_USAGE
    # The counts on stderr are courtesy output: a closed pipe there must not fail the scan.
    return _scan(args, safe(sys.stderr))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
