"""One file's upload in progress: its SAS, its open file, its counters, and how each of its
requests is sent (retries, SAS refresh, MD5-mismatch resend). Internal to BlobUploader."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from typing import TypeVar

from batcher.blob.blocks import Block
from batcher.blob.reader import BlockReader, Chunk, LocalFile
from batcher.blob.sas import SasKeeper
from batcher.errors import BatcherError, BlobError, BlobMd5MismatchError, FileChangedError
from batcher.retry import Retrier

T = TypeVar("T")

MAX_SAS_REFRESHES = 2
"""Per request: a fresh grant that is refused again means something else is wrong."""


@dataclass(frozen=True)
class BlobUploadStats:
    bytes_sent: int = 0
    """Request body bytes put on the wire, retries included."""
    requests: int = 0
    blocks_total: int = 0
    blocks_sent: int = 0
    blocks_skipped: int = 0
    """Found already staged (resume); blocks_sent + blocks_skipped == blocks_total."""
    sas_refreshes: int = 0
    retries: int = 0


def _zero_counters() -> dict[str, int]:
    return {f.name: 0 for f in fields(BlobUploadStats)}


@dataclass
class FileJob:
    file: LocalFile
    key: str
    content_type: str | None
    keeper: SasKeeper
    reader: BlockReader
    retrier: Retrier
    progress: Callable[[int], None]
    counters: dict[str, int] = field(default_factory=_zero_counters)
    found: Callable[[int], None] = field(default=lambda _n: None)
    """Bytes of blocks already staged by an earlier run (``BlobUploader.upload(found=)``)."""
    number: int = 0
    """Order of the file among the run's files (the link controller serves older first)."""

    def stats(self) -> BlobUploadStats:
        return BlobUploadStats(**{**self.counters, "sas_refreshes": self.keeper.refreshes})

    async def send(self, request: Callable[[str], Awaitable[T]], *, body: int = 0) -> T:
        """One logical request: retried by the Retrier, and re-sent with a fresh SAS when
        the service says the grant expired (at most ``MAX_SAS_REFRESHES`` times).

        Getting the SAS is an API call with its own retries; its failures are not retried
        again here (nested loops multiplied one E1's attempts into dozens)."""
        generation = 0
        calls = 0
        sas_failed = False

        async def once() -> T:
            nonlocal generation, calls, sas_failed
            try:
                grant, generation = await self.keeper.current()
            except BaseException:
                sas_failed = True
                raise
            calls += 1
            self.counters["requests"] += 1
            self.counters["bytes_sent"] += body
            return await request(grant.url)

        def blob_failure(exc: BatcherError) -> bool:
            return exc.retryable and not sas_failed

        refreshes = 0
        while True:
            calls = 0
            try:
                return await self.retrier.call(once, retry_if=blob_failure)
            except BlobError as exc:
                if not exc.sas_expired or refreshes >= MAX_SAS_REFRESHES:
                    raise
                refreshes += 1
                await self.keeper.expired(generation)
            finally:
                self.counters["retries"] += max(0, calls - 1)

    async def read_and_send(
        self,
        block: Block,
        put: Callable[[str, Chunk], Awaitable[None]],
        *,
        check_file: bool,
    ) -> None:
        """Read ``block`` and send it with ``put``. On an MD5 mismatch (the body was damaged
        on the way) read it again from disk and resend once; if the disk now says something
        else, the file changed. The caller holds the budget for one block."""
        expected: str | None = None
        for attempt in (1, 2):
            chunk = await self.reader.read(block.offset, block.length)
            if expected is not None and chunk.md5 != expected:
                raise FileChangedError(f"{self.file.path} changed during upload")
            expected = chunk.md5
            if check_file:
                self.file.ensure_unchanged()

            async def request(url: str, chunk: Chunk = chunk) -> None:
                await put(url, chunk)

            try:
                await self.send(request, body=block.length)
                return
            except BlobMd5MismatchError:
                if attempt == 2:
                    raise
            finally:
                # Drop the buffer before re-reading: one block per budget share.
                chunk.release()
                del chunk, request
