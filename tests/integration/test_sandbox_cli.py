"""``python -m batcher.sandbox`` as a real subprocess: starts, answers, stops on SIGTERM."""

from __future__ import annotations

import re
import subprocess
import sys

import anyio
import pytest

from batcher.sandbox import DEFAULT_TEST_KEY
from tests.fixtures.sandbox import http_for

pytestmark = pytest.mark.anyio


async def test_module_entry_point_prints_its_url_and_serves() -> None:
    process = await anyio.open_process(
        [sys.executable, "-m", "batcher.sandbox", "--port", "0", "--processing-delay", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    async with process:
        assert process.stdout is not None
        with anyio.fail_after(15):
            line = b""
            async for chunk in process.stdout:
                line += chunk
                if b"\n" in line:
                    break
        text = line.decode()
        match = re.search(r"(http://127\.0\.0\.1:\d+)\s*$", text.splitlines()[0])
        assert match, text
        assert DEFAULT_TEST_KEY not in text and "sk_test" not in text

        async with http_for(match.group(1)) as http:
            grant = await http.upload_url("cli.pdf", "application/pdf")
        assert grant["uploadUrl"].startswith(match.group(1) + "/blob/devstoreaccount1/assets/")

        process.terminate()
        with anyio.fail_after(10):
            code = await process.wait()
    assert code == 0
