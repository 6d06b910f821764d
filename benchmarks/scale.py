"""3 shards on a local Ray cluster vs 1 process, on the same rate-limited sandbox.

    python -m benchmarks.scale [--files 300] [--rate 40] [--shards 3]

The sandbox runs in this process (the shards of a local cluster reach it on loopback); each
case is a separate CLI process under its own key, so each meets a fresh rate-limit bucket.
Prints one JSON line per case: wall (the process; for ray also the run without cluster
start), requests and 429s as the sandbox counted them, early requests (inside a Retry-After).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from batcher.sandbox import RateLimit, SandboxConfig, running_sandbox
from tests.media import write_manifest, write_media

_WALL = re.compile(r"wall time\s+([\d,.]+) s")


def _statuses(report: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for text in report.read_text().splitlines() if report.exists() else []:
        line = json.loads(text)
        what = line["status"] if not line["error"] else f"{line['status']}:{line['error']['code']}"
        counts[what] = counts.get(what, 0) + 1
    return counts


async def _case(name: str, cmd: list[str], key: str, sb: Any) -> dict[str, Any]:
    before_req = sum(sb.state.requests.values())
    before_429 = sum(sb.state.rate_limited.values())
    before_early = len(sb.state.rate_limit_violations)
    t0 = time.monotonic()
    done = await anyio.run_process(
        cmd, check=False, env={"MEDIAMAGIC_API_KEY": key, "PATH": "/usr/bin:/bin",
                               "PYTHONPATH": str(Path.cwd())},
    )  # fmt: skip
    wall = time.monotonic() - t0
    err = done.stderr.decode()
    m = _WALL.search(err)
    return {
        "case": name,
        "exit": done.returncode,
        "wall_s": round(wall, 2),
        "run_wall_s": float(m.group(1).replace(",", "")) if m else None,
        "requests": sum(sb.state.requests.values()) - before_req,
        "http_429": sum(sb.state.rate_limited.values()) - before_429,
        "early_requests": len(sb.state.rate_limit_violations) - before_early,
        "rows": _statuses(Path(cmd[cmd.index("--report") + 1])),
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        root = Path(tmp)
        rows = [{"path": str(write_media(root, f"m/f{i:04}.png", 20_000 + i))}
                for i in range(args.files)]  # fmt: skip
        manifest = write_manifest(root, rows)
        limits = {"upload": RateLimit(rate=args.rate, burst=10)}
        config = SandboxConfig(processing_delay=0.5, rate_limits=limits, retry_after_seconds=1)
        async with running_sandbox(config) as sb:
            common = ["--base-url", sb.base_url, "--fresh", "--quiet",
                      "--poll-interval", "0.5", "--poll-max-interval", "2"]  # fmt: skip
            py = sys.executable
            one = [py, "-m", "batcher", str(manifest), "--report", str(root / "one.jsonl"),
                   *common]  # fmt: skip
            many = [py, "-m", "batcher", "ray", str(manifest), "--shards", str(args.shards),
                    "--report", str(root / "ray.jsonl"), *common]  # fmt: skip
            for name, cmd, key in [
                ("1 process", one, "sk_test_bench_one"),
                (f"{args.shards} shards (batcher ray, local cluster)", many, "sk_test_bench_ray"),
            ]:
                print(json.dumps(await _case(name, cmd, key, sb)), flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--files", type=int, default=300)
    p.add_argument("--rate", type=float, default=40.0, help="upload requests per second")
    p.add_argument("--shards", type=int, default=3)
    anyio.run(main, p.parse_args())
