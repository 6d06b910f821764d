"""A RunContext over the fake service and the fake clock, for stage unit tests (no sockets)."""

from __future__ import annotations

import json
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


def write_pngs(tmp_path: Path, sizes: list[int]) -> Path:
    """A CSV manifest of PNG files of these sizes (each one's bytes differ: its own
    findings, and no two rows are the same file)."""
    rows = ["path"]
    for i, size in enumerate(sizes):
        path = tmp_path / f"f{i}.png"
        path.write_bytes(PNG + bytes([i % 251]) * size + i.to_bytes(4, "big"))
        rows.append(path.name)
    manifest = tmp_path / "m.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def fake_run_settings(tmp_path: Path, **kw: Any) -> Settings:
    """Settings for a whole run over the fake service: small blocks, direct up to 100 kB."""
    return settings_for(tmp_path, **{"direct_max_bytes": 100_000, **kw})


def report_lines(tmp_path: Path) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    return sorted(lines, key=lambda d: int(str(d["row"])))
