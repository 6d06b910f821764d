"""``--dry-run``: read and check the whole manifest with no network, and say what a run would do.

Counts direct and presigned uploads, bytes, the rows that would be refused and why, the
requests a run would make, and a time estimate at the current settings (upload time at an
assumed bandwidth; processing time is the service's and cannot be known here).
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batcher.blob.blocks import plan_blocks
from batcher.config import Settings
from batcher.errors import InputError
from batcher.rows.identity import identity_key, resolved_path
from batcher.rows.manifest import read_manifest
from batcher.rows.preflight import check_row
from batcher.stages.carry import Decision, Sweep, sha256_file
from batcher.state.history import HistoryReader, HistoryRecord
from batcher.state.seen import SeenTable

EXAMPLES = 5


@dataclass
class DryRunPlan:
    rows: int = 0
    direct_files: int = 0
    direct_bytes: int = 0
    presigned_files: int = 0
    presigned_bytes: int = 0
    blocks: int = 0
    single_puts: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    examples: list[tuple[int, str, str]] = field(default_factory=list)
    assumed_mbps: float = 50.0
    batch_size: int = 50
    sweep: Counter[str] | None = None
    """``--incremental``: rows per decision (carried, changed, new, retried, aged)."""
    removed: list[str] = field(default_factory=list)
    refreshed: int = 0
    """``--refresh-issues``: carried complete rows whose result would be fetched again."""

    @property
    def accepted(self) -> int:
        return self.direct_files + self.presigned_files

    @property
    def upload_bytes(self) -> int:
        return self.direct_bytes + self.presigned_bytes

    def requests(self) -> dict[str, int]:
        committed = self.presigned_files - self.single_puts
        submissions = math.ceil(self.accepted / self.batch_size) if self.accepted else 0
        return {
            "E2 direct upload": self.direct_files,
            "E1 upload URL": self.presigned_files,
            "Put Blob": self.single_puts,
            "Put Block": self.blocks,
            "Put Block List": committed,
            "E4 create submission": submissions,
            "E6 asset result": self.accepted + self.refreshed,
            "E5 status polls (at least)": submissions,
        }

    def estimate_seconds(self) -> float:
        return self.upload_bytes / (self.assumed_mbps * 1e6)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "direct": {"files": self.direct_files, "bytes": self.direct_bytes},
            "presigned": {
                "files": self.presigned_files,
                "bytes": self.presigned_bytes,
                "blocks": self.blocks,
            },
            "refused": dict(self.refused),
            "refusedExamples": [{"row": r, "path": p, "reason": m} for r, p, m in self.examples],
            "requests": self.requests(),
            "assumedMBps": self.assumed_mbps,
            "uploadSecondsEstimate": round(self.estimate_seconds(), 1),
            **({"sweep": self._sweep_dict()} if self.sweep is not None else {}),
        }

    def _sweep_dict(self) -> dict[str, Any]:
        assert self.sweep is not None
        counts: dict[str, Any] = {d.value: self.sweep[d.value] for d in Decision}
        del counts[Decision.RESUMED.value]
        return {
            **counts,
            "removed": len(self.removed),
            "removedPaths": self.removed,
            "uploadBytes": self.upload_bytes,
            "issuesRefreshed": self.refreshed,
        }

    def render(self) -> str:
        mb = 1e6
        out = [
            f"Dry run: {self.rows:,} rows, nothing sent",
            f"  direct upload     {self.direct_files:>8,} files "
            f"{self.direct_bytes / mb:>12,.1f} MB",
            f"  presigned (SAS)   {self.presigned_files:>8,} files "
            f"{self.presigned_bytes / mb:>12,.1f} MB in {self.blocks:,} blocks",
            f"  would be refused  {sum(self.refused.values()):>8,} rows",
        ]
        out += [f"    {code:<24}{n:>6,}" for code, n in self.refused.most_common()]
        out += [f"    row {r}: {p}: {m}" for r, p, m in self.examples]
        if self.sweep is not None:
            n = self.sweep
            out += [
                "Sweep (--incremental), against the history of earlier sweeps",
                f"  unchanged (carried) {n['carried']:>8,} rows, nothing sent",
                f"  changed             {n['changed']:>8,} rows (next version)",
                f"  new                 {n['new']:>8,} rows",
                f"  retried             {n['retried']:>8,} rows (error or retryable failure)",
                f"  past --max-age      {n['aged']:>8,} rows (next version)",
                *(
                    [f"  issues refreshed    {self.refreshed:>8,} carried rows (one E6 each)"]
                    if self.refreshed
                    else []
                ),
                f"  removed             {len(self.removed):>8,} rows gone from the manifest",
                f"  to upload           {self.upload_bytes / 1e6:>8,.1f} MB",
            ]
        out.append("Requests it would make")
        out += [f"  {name:<28}{n:>10,}" for name, n in self.requests().items()]
        seconds = self.estimate_seconds()
        took = f"{seconds:,.1f} s" if seconds < 120 else f"{seconds / 60:,.1f} min"
        out.append(
            f"Upload time at {self.assumed_mbps:g} MB/s: about {took} "
            "(plus the service's processing time, which only a run can tell)"
        )
        return "\n".join(out)


def dry_run(
    manifest: Path,
    settings: Settings,
    *,
    assumed_mbps: float = 50.0,
    journal: Path | None = None,
) -> DryRunPlan:
    """``journal``: where the sweep history is (``--incremental``), read, never written."""
    plan = DryRunPlan(assumed_mbps=assumed_mbps, batch_size=settings.batch_size)
    history = None
    if settings.incremental and journal is not None:
        history = HistoryReader.open_read_only(journal)
    try:
        _plan_rows(plan, manifest, settings, history)
    finally:
        if history is not None:
            history.close()
    return plan


def _decision(
    sweep: Sweep | None, row: Any, base: Path, settings: Settings
) -> tuple[Decision, HistoryRecord | None] | None:
    """What --incremental would do with the row, before pre-flight (None: not decided)."""
    if sweep is None or row.problem is not None:
        return None
    resolved = resolved_path(row, base)
    try:
        key = identity_key(row, resolved, settings.key_column)
    except InputError:
        return None
    if sweep.keys.first(key, row.row) != row.row:
        return None  # a duplicate: pre-flight refuses it
    try:
        st = os.stat(resolved)
        sha = sha256_file(Path(resolved)) if settings.checksum else None
    except OSError:
        return None  # pre-flight says why
    hist = sweep.history.get(key)
    decision = sweep.decide(hist, st.st_size, st.st_mtime_ns, sha)
    return decision, hist


def _plan_rows(
    plan: DryRunPlan, manifest: Path, settings: Settings, history: HistoryReader | None
) -> None:
    # The files met, on disk (state/seen.py): on the history's connection when there is one,
    # else on a private temporary database.
    db = history.db if history is not None else sqlite3.connect("", check_same_thread=False)
    try:
        _plan_rows_on(plan, manifest, settings, history, SeenTable(db, "dry_run_paths"))
    finally:
        if history is None:
            db.close()


def _plan_rows_on(
    plan: DryRunPlan,
    manifest: Path,
    settings: Settings,
    history: HistoryReader | None,
    seen: SeenTable,
) -> None:
    base = manifest.resolve().parent
    sweep = None
    if settings.incremental:
        plan.sweep = Counter()
    if history is not None:
        sweep = Sweep(history, max_age_days=settings.max_age_days, checksum=settings.checksum)
    for row in read_manifest(manifest, encoding=settings.manifest_encoding):
        plan.rows += 1
        decided = _decision(sweep, row, base, settings)
        decision, hist = decided if decided is not None else (None, None)
        if decision is Decision.CARRIED:
            assert plan.sweep is not None and hist is not None
            plan.sweep[decision.value] += 1
            if settings.refresh_issues and hist.status == "complete" and hist.asset_id:
                plan.refreshed += 1
            continue
        job, problem = check_row(row, base, settings)
        reason = problem.message if problem else None
        code = problem.code if problem else None
        identity = str(job.path.resolve()) if problem is None and job.path is not None else None
        if identity is not None and seen.first(identity, row.row) != row.row:
            code, reason = "duplicate_row", "same file as an earlier row"
        if code is not None:
            plan.refused[code] += 1
            if len(plan.examples) < EXAMPLES:
                plan.examples.append((row.row, row.path_text, reason or code))
            continue
        size = job.size or 0
        if plan.sweep is not None:
            plan.sweep[(decision or Decision.NEW).value] += 1
        if job.upload_method == "direct":
            plan.direct_files += 1
            plan.direct_bytes += size
            continue
        plan.presigned_files += 1
        plan.presigned_bytes += size
        blocks = plan_blocks(
            size, block_size=settings.block_size, single_put_max=settings.block_size
        )
        if blocks.single_put:
            plan.single_puts += 1
        else:
            plan.blocks += blocks.count
    if sweep is not None:
        plan.removed = sorted(path for _, path in sweep.gone())
