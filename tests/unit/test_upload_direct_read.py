from __future__ import annotations

from pathlib import Path

import pytest

from batcher.errors import FileChangedError
from batcher.outcome import RowJob
from batcher.upload.direct import _read_whole

pytestmark = pytest.mark.anyio


async def test_a_file_that_changed_since_preflight_is_an_error_not_a_corrupt_upload(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 100)
    job = RowJob(row=1, path_text="a.png", columns={}, path=path, size=108)
    assert len(await _read_whole(job)) == 108
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 150)  # grew after the check
    with pytest.raises(FileChangedError, match="108"):
        await _read_whole(job)
