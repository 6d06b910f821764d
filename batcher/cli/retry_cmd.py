"""``batcher retry REPORT``: run again only the rows that ended ``failed`` or ``error``, and
merge their new lines into the report (the other rows' lines stay as they were).

Rows that cannot succeed as they are (an empty file, a type the API refuses, a bad manifest
row, a duplicate) are left alone unless their file or the manifest changed since the report
was written: retrying them would only write the same error again, and a ``duplicate_row``
retried on its own would upload the file a second time.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from batcher.errors import ReportUnreadable, UsageError
from batcher.outcome import ReportLine
from batcher.reporting.load import open_report

RETRY_STATUSES = frozenset({"failed", "error"})
UNCHANGED_FAILS_AGAIN = frozenset(
    {
        "empty_file",
        "too_large",
        "type_mismatch",
        "unknown_type",
        "unsupported_media_type",
        "not_a_file",
        "symlink_loop",
        "duplicate_row",
        "bad_row",
        "bad_json",
        "bad_encoding",
        "missing_path",
    }
)
"""Pre-flight refusals a retry would repeat unless the file or the manifest changed."""

HELP = """\
usage: batcher retry REPORT [--manifest PATH] [--journal PATH] [run options]

Run again only the rows of REPORT that ended failed or error, and merge their new lines
into REPORT (the other lines stay as they were). Rows that cannot succeed unchanged (empty
file, refused type, bad manifest row, duplicate) are skipped unless their file or the
manifest changed since the report was written.

positional arguments:
  REPORT           the .report.jsonl of an earlier run

options:
  --manifest PATH  the manifest the report came from (default: recorded in its journal)
  --journal PATH   that run's journal (default: REPORT.journal.sqlite)
  run options      any option of `batcher MANIFEST` (see `batcher --help`), e.g. -q
"""


def retry_parser() -> argparse.ArgumentParser:
    pre = argparse.ArgumentParser(prog="batcher retry", add_help=False)
    pre.add_argument("report", type=Path)
    pre.add_argument("--manifest", type=Path)
    pre.add_argument("--journal", type=Path)
    return pre


@dataclass
class RetryPlan:
    rows: frozenset[int]
    kept: Counter[str] = field(default_factory=Counter)
    """Rows left as they are, by error code."""

    def describe_kept(self) -> str | None:
        if not self.kept:
            return None
        codes = ", ".join(f"{code} {n:,}" for code, n in self.kept.most_common())
        total = sum(self.kept.values())
        return (
            f"not retried: {total:,} rows that would fail the same way unchanged ({codes}); "
            "fix the file or the manifest, then retry"
        )


def _changed(line: ReportLine, base: Path, since: float) -> bool:
    try:
        st = (base / Path(line.path).expanduser()).stat()
    except (OSError, ValueError):
        return True  # gone or unreadable now: let the run say so
    return st.st_mtime > since or (line.bytes is not None and st.st_size != line.bytes)


def plan_retry(report: Path, manifest: Path | None) -> RetryPlan:
    try:
        since = report.stat().st_mtime
        reader = open_report(report)
        lines = [item.line for item in reader if item.line.status in RETRY_STATUSES]
    except (OSError, ReportUnreadable) as exc:
        raise UsageError(f"cannot read the report {report}: {exc}") from None
    manifest_changed = True
    base = Path.cwd()
    if manifest is not None:
        base = Path(os.path.abspath(manifest)).parent
        try:
            manifest_changed = manifest.stat().st_mtime > since
        except OSError:
            manifest_changed = True
    plan = RetryPlan(rows=frozenset())
    rows: set[int] = set()
    for line in lines:
        code = line.error.code if line.error else None
        if (
            code in UNCHANGED_FAILS_AGAIN
            and not manifest_changed
            and not _changed(line, base, since)
        ):
            plan.kept[str(code)] += 1
            continue
        rows.add(line.row)
    plan.rows = frozenset(rows)
    return plan


def rows_to_retry(report: Path, manifest: Path | None = None) -> frozenset[int]:
    return plan_retry(report, manifest).rows


def remove_journal(journal: Path) -> bool:
    """Delete the retry's own journal once its run is complete (else it is the resume point
    of the next retry). True if removed."""
    if journal_state(journal) != "completed":
        return False
    for suffix in ("", "-wal", "-shm"):
        Path(str(journal) + suffix).unlink(missing_ok=True)
    return True


def journal_state(journal: Path) -> str | None:
    if not journal.is_file():
        return None
    return "completed" if _meta(journal, "completed") == "1" else "unfinished"


def _meta(journal: Path, key: str) -> str | None:
    """One value of a journal's meta table, or None. An ordinary connection, not a read-only
    one: read-only connections leave the ``-wal``/``-shm`` files behind."""
    if not journal.is_file():
        return None
    try:
        db = sqlite3.connect(journal)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def recorded_manifest(journal: Path) -> Path | None:
    """The manifest a run recorded in its journal."""
    value = _meta(journal, "manifest")
    return Path(value) if value else None


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
