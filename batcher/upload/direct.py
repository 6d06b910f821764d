"""Direct upload (E2): the file goes through the API in one multipart request.

Files up to ``INLINE_READ_MAX`` are read whole on the event loop (one chunk, held under the
memory budget for the request and its retries); larger ones stream from disk in aiohttp's
64 KiB reads, so a file is never in memory whole.
"""

from __future__ import annotations

from pathlib import Path

from batcher.blob.reader import LocalFile
from batcher.context import RunContext
from batcher.errors import FileChangedError, InputError
from batcher.outcome import RowJob
from batcher.rows.naming import upload_filename

# Below this, reading in the event loop beats a worker-thread hop (measured: the hop's
# lock hand-offs were ~18 % of CPU for 100 KB files); above it, a slow disk would stall the
# loop, so the read goes to a thread.
INLINE_READ_MAX = 256 * 1024
STREAM_BUFFER = 256 * 1024  # what a streamed direct upload holds at once (aiohttp reads 64 KiB)


def _read_sync(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read()


async def _read_whole(job: RowJob) -> bytes:
    """Files up to ``INLINE_READ_MAX`` are one chunk: read at once, in the event loop."""
    assert job.path is not None and job.size is not None
    try:
        data = _read_sync(job.path)
    except OSError as exc:
        raise InputError(f"cannot read {job.path}: {exc.strerror}", code="unreadable") from None
    if len(data) != job.size:
        raise FileChangedError(
            f"file changed since it was checked ({job.size} → {len(data)} bytes)"
        )
    return data


async def upload_direct(ctx: RunContext, job: RowJob) -> None:
    assert job.size is not None and job.content_type is not None
    filename = job.upload_filename or upload_filename(job, ctx.run_id, ctx.settings.rerun)
    job.upload_filename = filename
    assert job.path is not None
    if ctx.bandwidth is not None:
        # --bwlimit: a direct body goes out at aiohttp's pace, so it draws its whole size
        # before it is sent; the average stays at the cap.
        await ctx.bandwidth.take(job.size)
    if job.size <= INLINE_READ_MAX:
        # One chunk, held for the request and its retries: counted in the budget.
        async with ctx.budget.hold(job.size):
            data = await _read_whole(job)
            answer = await ctx.client.direct_upload(filename, job.content_type, data, job.size)
    else:
        # Streamed from disk in aiohttp's 64 KiB reads: the file is never in memory whole.
        async with ctx.budget.hold(STREAM_BUFFER):
            local = LocalFile(path=job.path, size=job.size, mtime_ns=job.mtime_ns or 0)
            answer = await ctx.client.direct_upload(filename, job.content_type, job.path, job.size)
        # A file that changed meanwhile may have sent mixed bytes: its blob is then never
        # submitted (the row is reported), so nothing corrupt is reviewed.
        local.ensure_unchanged()
    job.blob_path = answer.blob_path
    job.bytes_sent = job.size
    ctx.counters.sent(job.size)
