"""batcher's upload stage alone: the same functions and context the pipeline's upload
workers use (direct or presigned per row, journal writes included), with no submission,
polling or report. The pipeline scenario compares a full run with this.

Job: {"base_url", "api_key", "manifest", "journal", "workers", optional "direct_max_bytes"}.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
from pydantic import SecretStr

from batcher.assembly import open_context
from batcher.clock import RealClock
from batcher.config import Settings
from batcher.errors import RowError
from batcher.outcome import RowJob
from batcher.rows.identity import identity_key, resolved_path
from batcher.rows.manifest import read_manifest
from batcher.rows.preflight import check_row
from batcher.state.journal import Journal
from batcher.upload.direct import upload_direct
from batcher.upload.presigned import upload_presigned
from benchmarks.clients._util import emit, load_job, rss_mb


async def main() -> None:
    job = load_job()
    baseline = rss_mb()
    manifest = Path(job["manifest"])
    settings = Settings(
        base_url=job["base_url"],
        api_key=SecretStr(job["api_key"]),
        upload_workers=int(job.get("workers", 8)),
        direct_max_bytes=int(job.get("direct_max_bytes", 10_000_000)),
    )
    rows: list[RowJob] = []
    for row in read_manifest(manifest):
        row_job, problem = check_row(row, manifest.parent, settings)
        if problem is not None:
            raise SystemExit(f"row {row.row}: {problem}")
        resolved = resolved_path(row, manifest.parent)  # as the read stage does, before uploads
        row_job.identity = Path(resolved)
        row_job.key = identity_key(row, resolved, settings.key_column)
        rows.append(row_job)
    todo = iter(rows)
    failures = 0
    t0 = time.perf_counter()
    journal = Journal(Path(job["journal"]), fresh=True)
    try:
        async with open_context(settings, RealClock(), journal, manifest.parent) as ctx:

            async def worker() -> None:
                nonlocal failures
                for row_job in todo:
                    try:
                        if row_job.upload_method == "direct":
                            await upload_direct(ctx, row_job)
                        else:
                            await upload_presigned(ctx, row_job)
                    except RowError:
                        failures += 1
                        continue
                    if row_job.upload_method == "presigned":  # as stages/upload.py does
                        ctx.journal.rows.uploaded(row_job)

            async with anyio.create_task_group() as tg:
                for _ in range(settings.upload_workers):
                    tg.start_soon(worker)
    finally:
        journal.close()
    if failures:
        raise SystemExit(f"{failures} uploads failed")
    emit(elapsed=time.perf_counter() - t0, files=len(rows), baseline_rss_mb=baseline)


if __name__ == "__main__":
    anyio.run(main)
