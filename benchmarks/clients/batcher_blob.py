"""batcher's BlobUploader, driven directly: the block path without the API around it.

Job: {"files": [{"path", "url"}], "block_size", "block_concurrency", "budget",
"files_at_once", "adaptive"?, "bwlimit"?}. Built the way ``batcher.pipeline`` builds it (one
unlimited pool, no cookie jar; with "adaptive", the run-wide link controller capped at
files_at_once x block_concurrency; "bwlimit" in bytes/s), with a SAS that does not expire
during the run. Prints the controller's final limit and peak when there is one.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

import aiohttp
import anyio

from batcher.blob.budget import MemoryBudget
from batcher.blob.reader import LocalFile
from batcher.blob.sas import SasGrant
from batcher.blob.uploader import BlobSettings, BlobUploader
from batcher.clock import RealClock
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
        link = _link(job)
        extra: dict[str, Any] = {} if link is None else {"link": link}
        uploader = BlobUploader(session, settings, budget, Retrier(), **extra)

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
        link_limit=None if link is None else link.limit,
        link_peak=None if link is None else link.slots.peak,
    )


def _link(job: dict[str, Any]) -> Any:
    """The link controller, when asked for and this batcher has one ("[before]" may not)."""
    if not job.get("adaptive") or importlib.util.find_spec("batcher.blob.link") is None:
        return None
    from batcher.blob.link import LinkController, LinkPolicy

    ceiling = int(job["files_at_once"]) * int(job["block_concurrency"])
    return LinkController(RealClock(), LinkPolicy(ceiling=ceiling))


if __name__ == "__main__":
    anyio.run(main)
