"""What the real CLI says when it is stopped and when it resumes (stderr of a subprocess)."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import anyio
import pytest

from batcher.sandbox import SandboxConfig
from tests.e2e.test_kill_resume import _argv, _env, _lines, _setup
from tests.fixtures.sandbox import MakeSandbox

pytestmark = pytest.mark.anyio


async def test_ctrl_c_is_acknowledged_at_once_and_unfinished_rows_are_counted_not_listed(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    manifest, report = _setup(tmp_path)
    async with make_sandbox(SandboxConfig(processing_delay=0.5)) as sb:
        st = sb.state
        argv = [*_argv(manifest, report), "--status-interval", "0.1"]
        async with await anyio.open_process(argv, env=_env(sb)) as proc:
            with anyio.fail_after(30):
                while st.created_submissions < 1:  # noqa: ASYNC110 (polling a predicate)
                    await anyio.sleep(0.01)
            proc.send_signal(signal.SIGINT)
            with anyio.fail_after(30):
                code = await proc.wait()
            assert proc.stderr is not None
            err = (await proc.stderr.receive(1 << 20)).decode()
            while True:
                try:
                    err += (await proc.stderr.receive(1 << 20)).decode()
                except anyio.EndOfStream:
                    break
        lines = _lines(report)
        codes = [x["error"]["code"] for x in lines if x["error"]]  # type: ignore[index]
        unfinished = codes.count("interrupted")
        resumed = await anyio.run_process(argv, env=_env(sb), check=False)
    assert code == 130
    assert re.search(
        r"^stopping: \d+ rows? in flight, 10 s at most; Ctrl-C again to stop now$", err, re.M
    ), err
    assert unfinished > 0
    # One count for all of them, not a line each.
    assert f"{unfinished} row" in err and "left unfinished (interrupted)" in err
    assert not re.search(r"^row \d+ error \[run/interrupted\]", err, re.M), err
    # The ETA stops counting down: status lines after the acknowledgement say "stopping".
    after = err.split("stopping: ", 1)[1]
    assert all(" uploading · " not in x for x in after.splitlines() if x.startswith("["))
    out = resumed.stderr.decode()
    assert resumed.returncode == 0, out
    assert re.search(r"^resuming the sweep of \d\d:\d\d: [\d,]+ rows done", out, re.M), out
