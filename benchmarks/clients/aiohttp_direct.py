"""A bare aiohttp loop doing batcher's direct uploads (E2 multipart POSTs) to the sandbox.

Job: {"base_url", "api_key", "files": [{"path", "name", "content_type"}], "concurrency"}.
"""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import aiohttp

from benchmarks.clients._util import emit, load_job, rss_mb


async def main() -> None:
    job = load_job()
    baseline = rss_mb()
    files = iter(job["files"])
    url = job["base_url"] + "/api/integrations/uploads/direct"
    headers = {"X-API-Key": job["api_key"], "Accept": "application/json"}
    done = 0
    t0 = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def worker() -> None:
            nonlocal done
            for item in files:
                data = await asyncio.to_thread(Path(item["path"]).read_bytes)
                form = aiohttp.FormData(quote_fields=False)
                form.add_field(
                    "file", io.BytesIO(data), filename=item["name"],
                    content_type=item["content_type"],
                )  # fmt: skip
                async with session.post(url, data=form, headers=headers) as resp:
                    await resp.read()
                    if resp.status not in (200, 201):
                        raise RuntimeError(f"direct upload: {resp.status}")
                done += 1

        await asyncio.gather(*(worker() for _ in range(int(job["concurrency"]))))
    emit(elapsed=time.perf_counter() - t0, requests=done,
         baseline_rss_mb=baseline)  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
