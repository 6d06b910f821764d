from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from batcher.blob.reader import BlockReader, LocalFile, md5_b64, open_aiofiles, open_pread
from batcher.errors import FileChangedError, InputError

Opener = Callable[[Path], AbstractAsyncContextManager[BlockReader]]


@pytest.mark.anyio
@pytest.mark.parametrize("opener", [open_pread, open_aiofiles])
async def test_readers_return_exact_ranges_with_md5(tmp_path: Path, opener: Opener) -> None:
    data = os.urandom(3_000_001)  # large ranges come back as views of a private mapping
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    ranges = [(0, 0), (0, 1), (7, 100_000), (3_000_000, 1), (5, 2_000_000), (0, 3_000_001)]
    async with opener(path) as reader:
        for offset, length in ranges:
            chunk = await reader.read(offset, length)
            assert bytes(chunk.data) == data[offset : offset + length]
            assert chunk.md5 == md5_b64(data[offset : offset + length])


@pytest.mark.anyio
@pytest.mark.parametrize("opener", [open_pread, open_aiofiles])
async def test_reading_past_the_end_means_the_file_shrank(tmp_path: Path, opener: Opener) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    async with opener(path) as reader:
        with pytest.raises(FileChangedError):
            await reader.read(1, 10)
        with pytest.raises(FileChangedError):
            await reader.read(0, 2 << 20)


def test_md5_is_base64_of_the_digest() -> None:
    assert md5_b64(b"") == "1B2M2Y8AsgTpgAmY7PhCfg=="
    assert hashlib.md5(b"").hexdigest() == "d41d8cd98f00b204e9800998ecf8427e"


def test_local_file_notices_size_and_mtime_changes(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    local = LocalFile.stat(path)
    assert local.size == 3
    local.ensure_unchanged()
    os.utime(path, ns=(local.mtime_ns + 1_000_000, local.mtime_ns + 1_000_000))
    with pytest.raises(FileChangedError, match="mtime"):
        local.ensure_unchanged()
    path.unlink()
    with pytest.raises(FileChangedError, match="disappeared"):
        local.ensure_unchanged()
    with pytest.raises(InputError):
        LocalFile.stat(path)
