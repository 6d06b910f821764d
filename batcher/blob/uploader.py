"""Upload one local file to an Azure Blob SAS URL, the way AzCopy does it.

Small files: one Put Blob. Large files: blocks in parallel (up to ``block_concurrency`` per
file; with a run-wide ``LinkController``, as many across files as the link's measured
throughput rewards), every block's bytes held under the run-wide MemoryBudget from before
the read until its PUT has finished, so memory stays near the budget whatever the number or
size of files. Every
request carries a transactional Content-MD5. Retryable failures go through the Retrier; a
SAS that expires mid-file is refreshed and the file continues from the blocks already
staged; a StagedBlockStore lets a later attempt skip blocks an earlier one staged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import anyio

from batcher.blob import ops
from batcher.blob.blocks import MAX_BLOCK_SIZE, Block, BlockPlan, MiB, block_id, plan_blocks
from batcher.blob.budget import MemoryBudget
from batcher.blob.job import BlobUploadStats, FileJob
from batcher.blob.link import LinkController
from batcher.blob.reader import Chunk, LocalFile, ReaderFactory, open_pread
from batcher.blob.sas import SasKeeper, SasSource
from batcher.blob.staged import InMemoryStagedBlockStore, StagedBlockStore
from batcher.blob.transport import AiohttpTransport, BlobTransport
from batcher.clock import Clock, RealClock
from batcher.errors import BatcherError, BlobError, InputError
from batcher.retry import Retrier


@dataclass(frozen=True)
class BlobSettings:
    block_size: int = 8 * MiB
    single_put_max: int = 8 * MiB
    """Files up to this size go up in one Put Blob (Azure allows 5000 MiB)."""
    block_concurrency: int = 4
    """Blocks of ONE file in flight; the MemoryBudget bounds the total across files."""
    request_timeout_floor: float = 30.0
    request_timeout_per_mib: float = 4.0
    """Seconds allowed per MiB of request body on top of the floor (sized to the block)."""
    sas_refresh_margin: float = 300.0
    verify_with_block_list: bool = True
    """On resume, cross-check the store with Get Block List (skipped when the SAS lacks r)."""

    def __post_init__(self) -> None:
        if not 0 < self.block_size <= MAX_BLOCK_SIZE:
            raise ValueError("block_size must be in 1 B..4000 MiB")
        if not 0 <= self.single_put_max <= 5000 * MiB:
            raise ValueError("single_put_max must be in 0..5000 MiB")
        if self.block_concurrency < 1:
            raise ValueError("block_concurrency must be >= 1")

    def request_timeout(self, nbytes: int) -> float:
        return self.request_timeout_floor + self.request_timeout_per_mib * nbytes / MiB


class BlobUploader:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: BlobSettings,
        budget: MemoryBudget,
        retrier: Retrier,
        store: StagedBlockStore | None = None,
        clock: Clock | None = None,
        *,
        open_file: ReaderFactory = open_pread,
        link: LinkController | None = None,
    ) -> None:
        """``session`` must be dedicated to blob hosts: no default headers or auth (checked),
        and a connection limit of at least (files in flight) x ``block_concurrency``,
        because aiohttp counts waiting for a pooled connection against the timeout."""
        self._init(
            AiohttpTransport(session), settings, budget, retrier, store, clock, open_file, link
        )

    @classmethod
    def from_transport(
        cls,
        transport: BlobTransport,
        settings: BlobSettings,
        budget: MemoryBudget,
        retrier: Retrier,
        store: StagedBlockStore | None = None,
        clock: Clock | None = None,
        *,
        open_file: ReaderFactory = open_pread,
        link: LinkController | None = None,
    ) -> BlobUploader:
        """The same uploader over another transport (e.g. ``testing.FakeBlobService``)."""
        self = cls.__new__(cls)
        self._init(transport, settings, budget, retrier, store, clock, open_file, link)
        return self

    def _init(
        self,
        transport: BlobTransport,
        settings: BlobSettings,
        budget: MemoryBudget,
        retrier: Retrier,
        store: StagedBlockStore | None,
        clock: Clock | None,
        open_file: ReaderFactory,
        link: LinkController | None = None,
    ) -> None:
        self._transport = transport
        self.link = link
        self._settings = settings
        self._budget = budget
        self._retrier = retrier
        self._store: StagedBlockStore = store if store is not None else InMemoryStagedBlockStore()
        self._clock: Clock = clock if clock is not None else RealClock()
        self._open_file = open_file

    async def upload(
        self,
        file: LocalFile,
        sas: SasSource,
        *,
        key: str,
        content_type: str | None = None,
        progress: Callable[[int], None] | None = None,
        found: Callable[[int], None] | None = None,
    ) -> BlobUploadStats:
        """Upload ``file`` and commit it. ``key`` is the file's stable identity (for block ids
        and resume). ``progress`` gets deltas of bytes known to be on the service (negative
        only if a resumed file must start over); ``found``, if given, gets those of blocks
        found already staged instead (an earlier run sent them, this one did not). Raises
        RowError subclasses only."""
        # SAS expiry is wall-clock time: read through the injected clock, so a FakeClock moves it.
        keeper = SasKeeper(sas, margin=self._settings.sas_refresh_margin, wall=self._clock.wall)
        file.ensure_unchanged()
        try:
            plan = plan_blocks(
                file.size,
                block_size=self._settings.block_size,
                single_put_max=self._settings.single_put_max,
            )
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        async with self._open_file(file.path) as reader:
            job = FileJob(
                file, key, content_type, keeper, reader, self._retrier, progress or _ignore
            )
            job.found = found or job.progress
            job.number = self.link.new_file() if self.link is not None else 0
            if plan.single_put:
                await self._upload_single(job)
            else:
                await self._upload_blocks(job, plan)
        return job.stats()

    async def _upload_single(self, job: FileJob) -> None:
        size = job.file.size
        async with self._slot(job, 0), self._budget.hold(size):

            async def put(url: str, chunk: Chunk) -> None:
                async with self._timed(size) as limit:
                    await ops.put_blob(
                        self._transport, url, chunk, content_type=job.content_type, time_limit=limit
                    )

            await job.read_and_send(Block(0, 0, size), put, check_file=True)
        job.progress(size)

    @asynccontextmanager
    async def _slot(self, job: FileJob, index: int) -> AsyncIterator[None]:
        """A place among the requests in flight, when the link controller sizes them."""
        if self.link is None:
            yield
            return
        async with self.link.slot(job.number, index):
            yield

    @asynccontextmanager
    async def _timed(self, nbytes: int) -> AsyncIterator[float]:
        """Yield the request's time limit; tell the controller how long it took."""
        fallback = self._settings.request_timeout(nbytes)
        if self.link is None:
            yield fallback
            return
        started = self._clock.now()
        yield self.link.timeout(nbytes, fallback)
        self.link.acknowledged(nbytes, self._clock.now() - started)

    async def _upload_blocks(self, job: FileJob, plan: BlockPlan) -> None:
        ids = [block_id(job.key, plan, i) for i in range(plan.count)]
        job.counters["blocks_total"] = plan.count
        limit = self._settings.request_timeout(len(ids) * 64)

        async def commit(url: str) -> None:
            await ops.put_block_list(
                self._transport, url, ids, content_type=job.content_type, time_limit=limit
            )

        for second_pass in (False, True):
            staged = set() if second_pass else await self._already_staged(job, plan, ids)
            await self._stage_missing(job, plan, ids, staged)
            job.file.ensure_unchanged()  # before commit: never commit a torn file
            try:
                await job.send(commit)
                break
            except BlobError as exc:
                if exc.azure_code != "InvalidBlockList" or second_pass or not staged:
                    raise
                # The store vouched for blocks the service no longer has (expired, or the
                # blob was committed meanwhile): start this file over, once.
                self._store.forget(job.key)
                job.found(-sum(b.length for b in plan.blocks() if ids[b.index] in staged))
        self._store.forget(job.key)

    async def _already_staged(self, job: FileJob, plan: BlockPlan, ids: list[str]) -> set[str]:
        recorded = self._store.staged(job.key) & set(ids)
        if not recorded or not self._settings.verify_with_block_list:
            return recorded
        limit = self._settings.request_timeout(0)

        async def listing(url: str) -> dict[str, int]:
            return await ops.get_uncommitted_blocks(self._transport, url, time_limit=limit)

        try:
            listed = await job.send(listing)
        except BlobError as exc:
            if exc.http_status == 403:  # SAS without r, as the real service may hand out
                return recorded
            if exc.http_status == 404:  # no blob and no uncommitted blocks
                return set()
            raise
        lengths = {ids[b.index]: b.length for b in plan.blocks()}
        return {bid for bid in recorded if listed.get(bid) == lengths[bid]}

    async def _stage_missing(
        self, job: FileJob, plan: BlockPlan, ids: list[str], staged: set[str]
    ) -> None:
        missing = [b for b in plan.blocks() if ids[b.index] not in staged]
        todo = iter(missing)
        job.counters["blocks_skipped"] = plan.count - len(missing)
        job.counters["blocks_sent"] = 0
        job.found(plan.file_size - sum(b.length for b in missing))
        failures: list[BatcherError] = []

        async def worker(scope: anyio.CancelScope) -> None:
            for block in todo:  # one shared iterator: each block is taken exactly once
                bid = ids[block.index]

                async def put(url: str, chunk: Chunk, bid: str = bid) -> None:
                    async with self._timed(len(chunk.data)) as limit:
                        await ops.put_block(self._transport, url, bid, chunk, time_limit=limit)

                try:
                    # The slot first: a block waiting for the link holds no memory.
                    async with self._slot(job, block.index), self._budget.hold(block.length):
                        await job.read_and_send(block, put, check_file=False)
                except BatcherError as exc:
                    # Stop the file's other blocks and raise this error itself (not an
                    # ExceptionGroup): callers handle RowErrors.
                    failures.append(exc)
                    scope.cancel()
                    return
                self._store.record(job.key, bid, block.length)
                job.counters["blocks_sent"] += 1
                job.progress(block.length)

        async with anyio.create_task_group() as tg:
            for _ in range(min(self._settings.block_concurrency, plan.count)):
                tg.start_soon(worker, tg.cancel_scope)
        if failures:
            raise failures[0]


def _ignore(_: int) -> None:
    return None
