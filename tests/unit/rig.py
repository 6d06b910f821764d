"""A RunContext over the fake service and the fake clock, for stage unit tests (no sockets)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from batcher.api.testing import FakeMediaMagic
from batcher.assembly import Transports, open_context
from batcher.clock import FakeClock
from batcher.config import PollSettings, Settings
from batcher.context import RunContext
from batcher.outcome import RowJob
from batcher.state.journal import Journal

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def settings_for(tmp_path: Path, **kw: Any) -> Settings:
    values: dict[str, Any] = {
        "base_url": "http://127.0.0.1:9",
        "api_key": SecretStr("sk_test_fake"),
        "report_path": tmp_path / "r.jsonl",
        "block_size": 64 * 1024,
        "poll": PollSettings(initial=5.0, max_interval=60.0, deadline=3600.0),
    }
    values.update(kw)
    return Settings.model_validate(values)


@dataclass
class Rig:
    ctx: RunContext
    fake: FakeMediaMagic
    clock: FakeClock
    journal: Journal
    tmp_path: Path

    async def uploaded_job(self, row: int, content: bytes = b"") -> RowJob:
        """A row whose bytes are on the fake service (as the upload stage leaves it)."""
        data = PNG + content + row.to_bytes(4, "big")
        path = self.tmp_path / f"f{row}.png"
        path.write_bytes(data)
        job = RowJob(row=row, path_text=path.name, columns={}, path=path, size=len(data))
        job.key = f"path:{path}"
        job.content_type, job.upload_method, job.upload_filename = "image/png", "direct", path.name
        answer = await self.ctx.client.direct_upload(path.name, "image/png", data, len(data))
        job.blob_path = answer.blob_path
        return job


@asynccontextmanager
async def rig(tmp_path: Path, **settings: Any) -> AsyncIterator[Rig]:
    clock = FakeClock()
    fake = FakeMediaMagic(clock, processing_seconds=settings.pop("processing", 10.0))
    s = settings_for(tmp_path, **settings)
    journal = Journal(tmp_path / "j.sqlite", now=clock.now)
    try:
        async with (
            clock.autojump(),
            open_context(s, clock, journal, tmp_path, Transports(fake, fake.blob)) as ctx,
        ):
            yield Rig(ctx, fake, clock, journal, tmp_path)
    finally:
        journal.close()
