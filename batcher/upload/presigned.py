"""Presigned upload: E1 hands out a SAS URL for the row's file name, and the blob engine
(``batcher.blob``) puts the bytes there: one Put Blob, or blocks in parallel."""

from __future__ import annotations

from datetime import datetime

from batcher.api.protocol import MediaMagicApi
from batcher.blob.reader import LocalFile
from batcher.blob.sas import SasGrant
from batcher.context import RunContext
from batcher.outcome import RowJob
from batcher.rows.naming import upload_filename


class ApiSasSource:
    """Asks E1 for a SAS URL only when the uploader first needs one (it lives one hour), and
    again for the same file name when the uploader says the old one is expiring."""

    def __init__(self, client: MediaMagicApi, filename: str, content_type: str) -> None:
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


async def upload_presigned(ctx: RunContext, job: RowJob) -> None:
    assert job.path is not None and job.size is not None and job.mtime_ns is not None
    assert job.content_type is not None
    filename = job.upload_filename or upload_filename(job, ctx.run_id, ctx.settings.rerun)
    job.upload_filename = filename
    ctx.journal.rows.checked(job)  # the name must survive a crash: block ids derive from it
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
