"""``batcher retry REPORT``: run again only the rows that ended ``failed`` or ``error``, and
merge their new lines into the report (the other rows' lines stay as they were)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from batcher.errors import ReportUnreadable, UsageError
from batcher.reporting.load import open_report

RETRY_STATUSES = frozenset({"failed", "error"})


def rows_to_retry(report: Path) -> frozenset[int]:
    try:
        reader = open_report(report)
        return frozenset(item.line.row for item in reader if item.line.status in RETRY_STATUSES)
    except (OSError, ReportUnreadable) as exc:
        raise UsageError(f"cannot read the report {report}: {exc}") from None


def recorded_manifest(journal: Path) -> Path | None:
    """The manifest a run recorded in its journal (read-only: the journal is left as is)."""
    if not journal.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'manifest'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return Path(row[0]) if row else None


def merge_reports(original: Path, update: Path) -> None:
    """Replace ``original``'s lines by row with ``update``'s; written whole, then renamed."""
    lines: dict[int, str] = {}
    for source in (original, update):
        for text in source.read_text(encoding="utf-8").splitlines():
            try:
                row = int(json.loads(text)["row"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash: the newer run has the row again
            lines[row] = text
    tmp = original.with_name(original.name + ".merging")
    tmp.write_text("".join(lines[row] + "\n" for row in sorted(lines)), encoding="utf-8")
    os.replace(tmp, original)
