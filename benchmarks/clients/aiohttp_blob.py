"""A bare aiohttp loop against a SAS: what the block path costs with nothing around it.

Job: {"files": [{"path", "size", "url"}], "mode": "blocks"|"put", "block_size", "concurrency",
"md5": bool}. ``blocks``: every block of every file from one shared queue, ``concurrency``
requests in flight in all, each file committed when its last block lands. ``put``: one
Put Blob per file. Reads (and MD5) in the default thread pool, like batcher.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from urllib.parse import quote

import aiohttp
import yarl

from benchmarks.clients._util import emit, load_job, rss_mb


def url_with(sas_url: str, **params: str) -> yarl.URL:
    extra = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    return yarl.URL(f"{sas_url}&{extra}" if extra else sas_url, encoded=True)


def read(path: str, offset: int, length: int, md5: bool) -> tuple[bytes, str | None]:
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.pread(fd, length, offset)
    finally:
        os.close(fd)
    digest = base64.b64encode(hashlib.md5(data).digest()).decode() if md5 else None
    return data, digest


async def main() -> None:
    job = load_job()
    baseline = rss_mb()
    files = job["files"]
    block = int(job["block_size"])
    md5 = bool(job["md5"])
    loop = asyncio.get_running_loop()
    requests = 0
    work: list[tuple[int, int, int]] = []  # (file index, block index, offset)
    remaining: list[int] = []
    for fi, item in enumerate(files):
        size = int(item["size"])
        if job["mode"] == "put":
            work.append((fi, -1, 0))
            remaining.append(1)
        else:
            n = -(-size // block)
            work += [(fi, bi, bi * block) for bi in range(n)]
            remaining.append(n)
    queue = iter(work)
    t0 = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send(method: str, url: yarl.URL, data: bytes, headers: dict[str, str]) -> None:
            nonlocal requests
            requests += 1
            async with session.request(method, url, data=data, headers=headers) as resp:
                await resp.read()
                if resp.status != 201:
                    raise RuntimeError(f"{method} {resp.status}")

        async def worker() -> None:
            for fi, bi, offset in queue:
                item = files[fi]
                path, sas = item["path"], item["url"]
                length = int(item["size"]) if bi < 0 else block
                data, digest = await loop.run_in_executor(None, read, path, offset, length, md5)
                headers = {"Content-MD5": digest} if digest else {}
                if bi < 0:
                    headers["x-ms-blob-type"] = "BlockBlob"
                    await send("PUT", url_with(sas), data, headers)
                    continue
                bid = base64.b64encode(f"blk-{bi:08d}".encode()).decode()
                await send("PUT", url_with(sas, comp="block", blockid=bid), data, headers)
                del data
                remaining[fi] -= 1
                if remaining[fi] == 0:
                    ids = "".join(
                        f"<Latest>{base64.b64encode(f'blk-{i:08d}'.encode()).decode()}</Latest>"
                        for i in range(-(-int(item["size"]) // block))
                    )
                    xml = f'<?xml version="1.0" encoding="utf-8"?><BlockList>{ids}</BlockList>'
                    await send("PUT", url_with(sas, comp="blocklist"), xml.encode(), {})

        await asyncio.gather(*(worker() for _ in range(int(job["concurrency"]))))
    emit(
        elapsed=time.perf_counter() - t0,
        requests=requests,
        baseline_rss_mb=baseline,
    )


if __name__ == "__main__":
    asyncio.run(main())
