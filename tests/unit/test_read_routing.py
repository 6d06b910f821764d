"""On a resumed run the read stage sends each row to the first stage it still needs."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from batcher.outcome import ReportLine, RowJob, Ticket
from batcher.rows.manifest import read_manifest
from batcher.rows.preflight import check_row
from batcher.stages.read import read_stage
from batcher.state.journal import Journal
from batcher.state.seen import CHUNK
from tests.unit.rig import PNG, rig

pytestmark = pytest.mark.anyio


def _write(tmp_path: Path, n: int) -> Path:
    for i in range(1, n + 1):
        (tmp_path / f"f{i}.png").write_bytes(PNG + i.to_bytes(4, "big") * 3)
    manifest = tmp_path / "m.csv"
    manifest.write_text("path\n" + "".join(f"f{i}.png\n" for i in range(1, n + 1)))
    return manifest


async def test_each_journal_state_routes_to_its_stage(tmp_path: Path) -> None:
    manifest = _write(tmp_path, 5)
    async with rig(tmp_path) as r:
        rows = list(read_manifest(manifest))
        jobs = [check_row(row, tmp_path, r.ctx.settings)[0] for row in rows]
        for job in jobs:
            job.blob_path, job.submission_id, job.asset_id = "ws/x", "sub-1", f"a{job.row}"
            assert job.path is not None
            job.key = f"path:{job.path.resolve()}"  # the identity the read stage looks up
        # A previous run left: 1 checked, 2 uploaded, 3 submitting, 4 submitted, 5 reported.
        r.journal.rows.checked(jobs[0])
        r.journal.rows.uploaded(jobs[1])
        r.journal.rows.submitting([jobs[2]])
        r.journal.rows.submitted([jobs[3]])
        line = jobs[4].line(status="complete")
        r.journal.rows.reported(line, line.to_json())
        r.journal.close()
        r.ctx.journal = Journal(tmp_path / "j.sqlite", now=r.clock.now)  # resumed
        r.journal = r.ctx.journal

        jobs_tx, jobs_rx = anyio.create_memory_object_stream[RowJob](10)
        up_tx, up_rx = anyio.create_memory_object_stream[RowJob](10)
        t_tx, t_rx = anyio.create_memory_object_stream[Ticket](10)
        rep_tx, rep_rx = anyio.create_memory_object_stream[ReportLine](10)
        await read_stage(r.ctx, iter(rows), jobs_tx, up_tx, t_tx, rep_tx)
        with jobs_rx, up_rx, t_rx, rep_rx:
            to_upload = [j.row async for j in jobs_rx]
            to_submit = [j async for j in up_rx]
            tickets = [t async for t in t_rx]
            lines = [x async for x in rep_rx]
    assert to_upload == [1]  # checked: its staged blocks are reused by the uploader
    assert [j.row for j in to_submit] == [2, 3]
    assert [j.create_ambiguous for j in to_submit] == [False, True]
    assert [(t.submission_id, sorted(t.jobs)) for t in tickets] == [("sub-1", ["a4"])]
    # Row 5's finished line is replayed as it was, not recomputed.
    assert [(x.row, x.status, x.asset_id) for x in lines] == [(5, "complete", "a5")]


async def test_duplicates_are_found_across_chunks_and_name_the_first_row(tmp_path: Path) -> None:
    """Rows go through the duplicate check a chunk at a time (``CHUNK`` rows, one statement
    each): a repeat in a later chunk, or twice within one, still names the first row."""
    n = 2 * CHUNK + 10
    manifest = _write(tmp_path, n)
    with manifest.open("a") as out:
        out.write(f"f5.png\n./f5.png\nf{n - 1}.png\n")
    async with rig(tmp_path) as r:
        rows = list(read_manifest(manifest))
        jobs_tx, jobs_rx = anyio.create_memory_object_stream[RowJob](n + 10)
        up_tx, up_rx = anyio.create_memory_object_stream[RowJob](10)
        t_tx, t_rx = anyio.create_memory_object_stream[Ticket](10)
        rep_tx, rep_rx = anyio.create_memory_object_stream[ReportLine](10)
        await read_stage(r.ctx, iter(rows), jobs_tx, up_tx, t_tx, rep_tx)
        with jobs_rx, up_rx, t_rx, rep_rx:
            sent = [j.row async for j in jobs_rx]
            refused = [x async for x in rep_rx]
    assert sent == list(range(1, n + 1))
    assert [(x.row, x.error.code if x.error else None) for x in refused] == [
        (n + 1, "duplicate_row"),
        (n + 2, "duplicate_row"),
        (n + 3, "duplicate_row"),
    ]
    messages = [x.error.message for x in refused if x.error]
    assert messages == [
        "same file as row 5; not sent twice",
        "same file as row 5; not sent twice",
        f"same file as row {n - 1}; not sent twice",
    ]
    assert r.ctx.counters.rows_read == n + 3
