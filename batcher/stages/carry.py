"""``--incremental``: what a sweep does with each row, given what the last sweeps found.

* unchanged since it was last reviewed, with a result worth keeping: **carried** (its
  earlier line, marked ``reusedFrom``; nothing sent);
* changed: **changed**, reviewed again as the next version of the same asset;
* never seen: **new**; ended in error or a retryable failure: **retried**;
* reviewed more than ``--max-age`` days ago: **aged**, reviewed again as a new version;
* on record but gone from the manifest: **removed** (counted, then forgotten when the sweep
  completes, so the history follows the library).

Deciding needs only a stat (and with ``--checksum`` a read of the file) and an indexed
lookup per row (batched by the read stage): a night where nothing changed sends nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from batcher.outcome import Note, ReportLine, RowJob, RowOrigin
from batcher.rows.manifest import ManifestRow
from batcher.state.history import HistoryReader, HistoryRecord, SweepHistory
from batcher.state.seen import SeenTable


class Decision(StrEnum):
    NEW = "new"
    CARRIED = "carried"
    CHANGED = "changed"
    RETRIED = "retried"
    AGED = "aged"
    RESUMED = "resumed"
    """Finished earlier in this same sweep (an interrupted sweep resumed): replayed."""


REVIEWED = (Decision.NEW, Decision.CHANGED, Decision.RETRIED, Decision.AGED)


def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def decide(
    hist: HistoryRecord | None,
    size: int,
    mtime_ns: int,
    sha256: str | None,
    *,
    max_age_days: float | None,
    now: datetime,
) -> Decision:
    if hist is None:
        return Decision.NEW
    if not hist.carry:
        return Decision.RETRIED  # whether or not it changed: its last result is no answer
    if sha256 is not None and hist.sha256 is not None:
        same = hist.size == size and hist.sha256 == sha256
    else:  # no checksum asked for, or none on record yet: size and mtime tell
        same = (hist.size, hist.mtime_ns) == (size, mtime_ns)
    if not same:
        return Decision.CHANGED
    if max_age_days is not None and now - hist.reviewed() > timedelta(days=max_age_days):
        return Decision.AGED
    return Decision.CARRIED


def carried_line(hist: HistoryRecord, row: ManifestRow) -> ReportLine:
    """The earlier result as it was, under this manifest's row number, path and columns."""
    line = ReportLine.model_validate_json(hist.line)
    # Updated in place as model_copy(update=) would (no validation: the values are already
    # of their fields' types), without the copy: the line was just parsed and is this row's
    # own, and a copy per carried row was a tenth of a no-change night's CPU.
    line.__dict__.update(
        row=row.row,
        path=row.path_text,
        columns=row.columns,
        reused_from={"reviewedAt": hist.reviewed_at, "sweep": hist.sweep},
    )
    return line.with_origin(RowOrigin(hist.key, journal=False))


CHAIN_BROKEN = "version_chain_broken"


def note_broken_chain(job: RowJob) -> None:
    """After E4: a new version that did not join its file's version group is said so on its
    line. The API does not say which asset a new version follows when the previous
    submission held several (the sandbox takes the first one's group), so a chain built on
    a batched submission may land in another file's group; accepting that silently would
    leave a broken chain nobody knows of."""
    expected, got = job.expected_version_group_id, job.version_group_id
    if expected is None or got is None or got == expected:
        return
    if any(note.code == CHAIN_BROKEN for note in job.notes):
        return
    job.notes.append(
        Note(
            code=CHAIN_BROKEN,
            message=(
                f"sent as the next version of submission {job.previous_submission_id}, but "
                f"the service put it in version group {got}, not this file's group "
                f"{expected}: that submission held several assets, and which one a new "
                "version follows is not documented; run with --batch-size 1 for chains "
                "that cannot break this way"
            ),
        )
    )


def broke_chain(line: ReportLine) -> bool:
    return line.reused_from is None and any(note.code == CHAIN_BROKEN for note in line.notes)


class Sweep:
    """One ``--incremental`` run's view of the history, and what it decided."""

    def __init__(
        self,
        history: HistoryReader,
        *,
        max_age_days: float | None,
        checksum: bool,
        wall: Callable[[], datetime] | None = None,
    ) -> None:
        self.history = history
        self.max_age_days = max_age_days
        self.checksum = checksum
        self.now = (wall or (lambda: datetime.now(UTC)))()
        self.keys = SeenTable(history.db, "seen_keys")
        """Every identity met in the manifest (on disk): what is *not* here was removed."""
        self.counts: Counter[Decision] = Counter()
        self.upload_bytes = 0
        self.removed: list[str] | None = None
        self.chains_broken = 0
        """New versions of this sweep that landed outside their file's version group."""

    def line_written(self, line: ReportLine) -> None:
        """Told of each report line (a carried line's notes are an earlier sweep's)."""
        if line.notes and broke_chain(line):
            self.chains_broken += 1

    def decide(
        self, hist: HistoryRecord | None, size: int, mtime_ns: int, sha256: str | None
    ) -> Decision:
        return decide(hist, size, mtime_ns, sha256, max_age_days=self.max_age_days, now=self.now)

    def finish(self) -> list[str]:
        """After a complete sweep: the paths on record that the manifest no longer has;
        they are forgotten."""
        self.removed = [path for _, path in self.gone()]
        if isinstance(self.history, SweepHistory):
            self.history.forget_unseen(self.keys)
        return self.removed

    def gone(self) -> list[tuple[str, str]]:
        """(key, path) on record but not met in the manifest (call once it is all read),
        sorted by path: found by the database, not by walking the history here."""
        return self.history.unseen(self.keys)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {d.value: self.counts[d] for d in Decision}
        out["versionChainsBroken"] = self.chains_broken
        if self.removed is not None:
            out["removed"] = len(self.removed)
            out["removedPaths"] = self.removed
        return out
