"""Every file a run will write, checked before the first byte is sent.

An unwritable ``--summary-json`` used to be found only after every upload; the run's work
was done and its summary lost. Each path is opened for appending (creating it only for the
check, then removing it) so the answer is the operating system's, not a guess from mode
bits, and nothing existing is truncated.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from batcher.errors import UsageError


def check_writable(option: str, path: Path) -> None:
    what = f"the report ({option} {path})" if option == "--report" else f"{option} {path}"
    if path.is_dir():
        raise UsageError(f"cannot write {what}: it is a directory")
    existed = path.exists()
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write {what}: {exc.strerror}") from None
    if not existed:
        path.unlink(missing_ok=True)


def check_outputs(args: argparse.Namespace, *, report: Path | None) -> None:
    """``report`` None: a dry run, which writes only ``--summary-json``."""
    paths: list[tuple[str, object]] = [("--summary-json", args.summary_json)]
    if report is not None:
        paths += [
            ("--report", report),
            ("--log-file", args.log_file),
            ("--journal", args.journal),
            ("--stats-json", None if args.stats_json == "-" else args.stats_json),
        ]
    for option, value in paths:
        if value:
            check_writable(option, Path(str(value)))
