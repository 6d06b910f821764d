"""A resumed upload's staged blocks are reported as found, not as bytes sent now (they made
the bar end at 101.0 MB / 102.0 MB and showed as speed)."""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path

import pytest

from batcher.context import RunCounters
from tests.unit.test_upload_uploader import BLOCK, SETTINGS, Rig, Source, _crash_after


@pytest.mark.anyio
async def test_staged_blocks_are_found_not_sent(tmp_path: Path) -> None:
    rig = Rig(tmp_path, dataclasses.replace(SETTINGS, block_concurrency=1))
    local, _ = rig.file("c.bin", 8 * BLOCK + 5)
    source = Source(rig.clock, "c.bin", sp="cw")
    await _crash_after(rig, local, source, blocks=5)
    staged = len(rig.store.staged("key"))
    assert 0 < staged < 9
    counters = RunCounters()
    upload = partial(rig.uploader.upload, progress=counters.sent, found=counters.found)
    await upload(local, source, key="key")
    assert counters.bytes_skipped == staged * BLOCK
    assert counters.bytes_sent == local.size - staged * BLOCK  # only what went up now
    assert counters.bytes_sent + counters.bytes_skipped == local.size
