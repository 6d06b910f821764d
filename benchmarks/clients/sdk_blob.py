"""azure-storage-blob (aio) with shared-key auth, with 8 MiB blocks and max_concurrency 8.

Job: {"connection_string", "container", "files": [{"path", "size", "name"}], "mode": "blocks"|"put",
"block_size", "concurrency"}. ``blocks``: files one after another, ``concurrency`` blocks
each; ``put``: ``concurrency`` tasks, one upload_blob per file.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import BinaryIO

from azure.storage.blob.aio import BlobServiceClient

from benchmarks.clients._util import emit, load_job, rss_mb


def _open(path: str) -> BinaryIO:
    return Path(path).open("rb")


async def main() -> None:
    job = load_job()
    baseline = rss_mb()
    block = int(job["block_size"])
    conc = int(job["concurrency"])
    t0 = time.perf_counter()
    async with BlobServiceClient.from_connection_string(
        job["connection_string"], max_block_size=block, max_single_put_size=block
    ) as svc:
        container = svc.get_container_client(job["container"])
        if job["mode"] == "blocks":
            for item in job["files"]:
                with _open(item["path"]) as fh:
                    await container.get_blob_client(item["name"]).upload_blob(
                        fh, length=int(item["size"]), overwrite=True, max_concurrency=conc
                    )
        else:
            todo = iter(job["files"])

            async def worker() -> None:
                for item in todo:
                    data = await asyncio.to_thread(Path(item["path"]).read_bytes)
                    await container.upload_blob(item["name"], data, overwrite=True)

            await asyncio.gather(*(worker() for _ in range(conc)))
    emit(elapsed=time.perf_counter() - t0, baseline_rss_mb=baseline)


if __name__ == "__main__":
    asyncio.run(main())
