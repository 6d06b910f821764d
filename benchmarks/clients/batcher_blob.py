"""batcher's BlobUploader, driven directly: the block path without the API around it.

Job: {"files": [{"path", "url"}], "block_size", "block_concurrency", "budget",
"files_at_once"}. Built the way ``batcher.pipeline`` builds it (one unlimited pool,
no cookie jar), with a SAS that does not expire during the run.
"""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import anyio

from batcher.blob.budget import MemoryBudget
from batcher.blob.reader import LocalFile
from batcher.blob.sas import SasGrant
from batcher.blob.uploader import BlobSettings, BlobUploader
from batcher.retry import Retrier
from benchmarks.clients._util import emit, load_job, rss_mb


class FixedSas:
    def __init__(self, url: str) -> None:
        self._grant = SasGrant(url=url, expires_at=time.time() + 7200)

    async def __call__(self, *, refresh: bool) -> SasGrant:
        return self._grant


async def main() -> None:
    job = load_job()
    baseline = rss_mb()
    settings = BlobSettings(
        block_size=int(job["block_size"]),
        single_put_max=int(job["block_size"]),
        block_concurrency=int(job["block_concurrency"]),
    )
    budget = MemoryBudget(int(job["budget"]))
    files = list(job["files"])
    todo = iter(files)
    requests = 0
    t0 = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    async with aiohttp.ClientSession(
        connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        uploader = BlobUploader(session, settings, budget, Retrier())

        async def worker() -> None:
            nonlocal requests
            for item in todo:
                path = Path(item["path"])
                stats = await uploader.upload(
                    LocalFile.stat(path), FixedSas(item["url"]), key=str(path)
                )
                requests += stats.requests

        async with anyio.create_task_group() as tg:
            for _ in range(min(int(job["files_at_once"]), len(files))):
                tg.start_soon(worker)
    elapsed = time.perf_counter() - t0
    emit(
        elapsed=elapsed,
        requests=requests,
        budget_peak_mb=budget.peak / (1 << 20),
        baseline_rss_mb=baseline,
    )


if __name__ == "__main__":
    anyio.run(main)
