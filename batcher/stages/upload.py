"""Upload workers: each row goes direct (≤ the cap) or presigned (SAS URL + blob protocol)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from anyio.abc import ObjectReceiveStream, ObjectSendStream

from batcher.api.client import MediaMagicClient
from batcher.context import RunContext
from batcher.errors import FileChangedError, InputError, RowError
from batcher.naming import upload_filename
from batcher.outcome import ReportLine, RowJob
from batcher.upload.reader import LocalFile
from batcher.upload.sas import SasGrant


class ApiSasSource:
    """Asks E1 for a SAS URL only when the uploader first needs one (it lives one hour), and
    again for the same file name when the uploader says the old one is expiring."""

    def __init__(self, client: MediaMagicClient, filename: str, content_type: str) -> None:
        self._client = client
        self._filename = filename
        self._content_type = content_type
        self._grant: SasGrant | None = None
        self.blob_path: str | None = None

    async def __call__(self, *, refresh: bool) -> SasGrant:
        if self._grant is None or refresh:
            answer = await self._client.upload_url(self._filename, self._content_type)
            expires = datetime.fromisoformat(answer.expires_at.replace("Z", "+00:00"))
            self._grant = SasGrant(url=answer.upload_url, expires_at=expires.timestamp())
            self.blob_path = answer.blob_path
        return self._grant


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


async def upload_presigned(ctx: RunContext, job: RowJob) -> None:
    assert job.path is not None and job.size is not None and job.mtime_ns is not None
    assert job.content_type is not None
    filename = job.upload_filename or upload_filename(job, ctx.run_id, ctx.settings.rerun)
    job.upload_filename = filename
    ctx.journal.checked(job)  # the name must survive a crash: block ids derive from it
    sas = ApiSasSource(ctx.client, filename, job.content_type)
    local = LocalFile(path=job.path, size=job.size, mtime_ns=job.mtime_ns)
    stats = await ctx.uploader.upload(
        local,
        sas,
        key=f"{filename}:{job.size}:{job.mtime_ns}",
        content_type=job.content_type,
        progress=ctx.counters.sent,
    )
    job.blob_path = sas.blob_path
    job.bytes_sent = stats.bytes_sent


async def upload_worker(
    ctx: RunContext,
    jobs: ObjectReceiveStream[RowJob],
    uploaded: ObjectSendStream[RowJob],
    report: ObjectSendStream[ReportLine],
) -> None:
    async with jobs, uploaded, report:
        async for job in jobs:
            if ctx.stopping.is_set():
                continue  # drain: the journal lets the next run pick these up
            try:
                if job.upload_method == "direct":
                    await upload_direct(ctx, job)
                else:
                    await upload_presigned(ctx, job)
            except RowError as exc:
                ctx.counters.bytes_skipped += job.size or 0
                await report.send(job.fail("upload", exc))
                continue
            ctx.counters.bytes_uploaded += job.bytes_sent
            ctx.counters.files_uploaded += 1
            if job.upload_method == "presigned":
                # A crash before submission then skips re-sending a large file. A direct
                # file (<= 10 MB) is cheaper to send again than to journal every time.
                ctx.journal.uploaded(job)
            await uploaded.send(job)
