"""``--dry-run``: read and check the whole manifest with no network, and say what a run would do.

Counts direct and presigned uploads, bytes, the rows that would be refused and why, the
requests a run would make, and a time estimate at the current settings (upload time at an
assumed bandwidth; processing time is the service's and cannot be known here).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batcher.blob.blocks import plan_blocks
from batcher.config import Settings
from batcher.rows.manifest import read_manifest
from batcher.rows.preflight import check_row

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
            "E6 asset result": self.accepted,
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
        out.append("Requests it would make")
        out += [f"  {name:<28}{n:>10,}" for name, n in self.requests().items()]
        seconds = self.estimate_seconds()
        took = f"{seconds:,.1f} s" if seconds < 120 else f"{seconds / 60:,.1f} min"
        out.append(
            f"Upload time at {self.assumed_mbps:g} MB/s: about {took} "
            "(plus the service's processing time, which only a run can tell)"
        )
        return "\n".join(out)


def dry_run(manifest: Path, settings: Settings, *, assumed_mbps: float = 50.0) -> DryRunPlan:
    plan = DryRunPlan(assumed_mbps=assumed_mbps, batch_size=settings.batch_size)
    base = manifest.resolve().parent
    seen: set[Path] = set()
    for row in read_manifest(manifest, encoding=settings.manifest_encoding):
        plan.rows += 1
        job, problem = check_row(row, base, settings)
        reason = problem.message if problem else None
        code = problem.code if problem else None
        if problem is None and job.path is not None:
            identity = job.path.resolve()
            if identity in seen:
                code, reason = "duplicate_row", "same file as an earlier row"
            seen.add(identity)
        if code is not None:
            plan.refused[code] += 1
            if len(plan.examples) < EXAMPLES:
                plan.examples.append((row.row, row.path_text, reason or code))
            continue
        size = job.size or 0
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
    return plan
