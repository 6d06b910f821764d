"""Slow link: a large file over an emulated 25 MB/s link, killed mid-way and resumed.

    python -m benchmarks.slowlink                 # 150 MB file, 25 MB/s, 2 runs per case
    python -m benchmarks.slowlink --quick         # 48 MB, 1 run, nothing recorded

Per case, against a fresh sandbox whose blob host reads upload bodies at ``--rate`` MB/s
(one pace shared by every connection, like one network link):

1. a clean run of the batcher CLI: wall time, so throughput = file size / wall against the
   link rate (interpreter start, E1/E4/polls included: the upload dominates);
2. a fresh sandbox again, the same command SIGKILLed half-way through the clean run's wall
   time (mid-upload), then run again to the end. ``re-sent`` = the body bytes the sandbox read in
   both runs minus the file size (Put Block List bodies included; they are a few KB): the
   partial blocks the kill threw away, plus any staged block the resume could not vouch for.

The cases: batcher's default (blob requests in flight sized to the measured throughput),
``--fixed-concurrency`` (today's: 4 blocks per file) and ``--fixed-concurrency
--block-concurrency 16`` (the 16 blocks in flight the issue measured). Results go to
``benchmarks/results/slowlink.json``; RESULTS.md's "Slow link" section is written by hand
from them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks import data
from benchmarks.common import PYTHON, REPO, WORK, MiB
from benchmarks.scenarios import cli_args
from benchmarks.services import SANDBOX_KEY, sandbox

CASES: dict[str, list[str]] = {
    "adaptive (default)": [],
    "fixed, 4 per file": ["--fixed-concurrency"],
    "fixed, 16 in flight": ["--fixed-concurrency", "--block-concurrency", "16"],
}
RESULTS = Path(__file__).parent / "results" / "slowlink.json"


def _env() -> dict[str, str]:
    return {**os.environ, "MEDIAMAGIC_API_KEY": SANDBOX_KEY, "PYTHONPATH": str(REPO)}


def _run(cmd: list[str], log: Path) -> tuple[int, float]:
    t0 = time.monotonic()
    with log.open("wb") as out:
        rc = subprocess.run(
            cmd, cwd=REPO, env=_env(), stdout=out, stderr=subprocess.STDOUT
        ).returncode
    return rc, time.monotonic() - t0


def clean_run(ds: data.Dataset, extra: list[str], rate: float, run_dir: Path) -> dict[str, Any]:
    with sandbox(run_dir, blob_bandwidth=rate) as sb:
        rc, wall = _run(cli_args(sb, ds.manifest, run_dir, extra), run_dir / "clean.log")
    if rc != 0:
        raise RuntimeError(f"clean run exit {rc}: see {run_dir / 'clean.log'}")
    return {"wall_s": wall, "mb_per_s": ds.total_bytes / wall / 1e6,
            "received": int(sb.state["blob_bytes_received"])}  # fmt: skip


def killed_run(
    ds: data.Dataset, extra: list[str], rate: float, run_dir: Path, *, kill_after: float
) -> dict[str, Any]:
    with sandbox(run_dir, blob_bandwidth=rate) as sb:
        cmd = cli_args(sb, ds.manifest, run_dir, extra)
        # The resume is the same command, minus --fresh (which would start over).
        resume = [arg for arg in cmd if arg != "--fresh"]
        with (run_dir / "killed.log").open("wb") as out:
            proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=out, stderr=subprocess.STDOUT)
            try:
                proc.wait(timeout=kill_after)
                raise RuntimeError("the run ended before the kill: raise the file size")
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        rc, wall = _run(resume, run_dir / "resume.log")
    if rc != 0:
        raise RuntimeError(f"resume exit {rc}: see {run_dir / 'resume.log'}")
    received = int(sb.state["blob_bytes_received"])
    return {"killed_at_s": kill_after, "resume_wall_s": wall, "received": received,
            "resent_bytes": received - ds.total_bytes}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--rate", type=float, default=25.0, help="link MB/s (decimal)")
    ap.add_argument("--size-mb", type=int, default=None)
    ap.add_argument("--only", default=None, help="cases whose name contains this")
    args = ap.parse_args()
    size = (args.size_mb or (48 if args.quick else 150)) * 1_000_000
    runs = args.runs or (1 if args.quick else 2)
    rate = args.rate * 1e6
    ds = data.large(1, size // MiB * MiB)
    out: dict[str, Any] = {"file_bytes": ds.total_bytes, "link_mb_per_s": args.rate,
                           "block_mib": 8, "runs": runs, "cases": {}}  # fmt: skip
    for name, extra in CASES.items():
        if args.only and args.only not in name:
            continue
        slug = "-".join(name.replace(",", "").replace("(", "").replace(")", "").split())
        samples = []
        for i in range(runs):
            base = WORK / "runs" / "slowlink" / slug / f"run{i}"
            base.mkdir(parents=True, exist_ok=True)
            clean = clean_run(ds, extra, rate, base / "clean")
            # Half-way through this case's own clean run: mid-upload whatever its startup.
            killed = killed_run(ds, extra, rate, base / "killed", kill_after=clean["wall_s"] / 2)
            samples.append({**clean, **{f"kill_{k}": v for k, v in killed.items()}})
        figures = {
            "mb_per_s": statistics.median(s["mb_per_s"] for s in samples),
            "link_share": statistics.median(s["mb_per_s"] for s in samples) / args.rate,
            "resent_mib": statistics.median(s["kill_resent_bytes"] for s in samples) / MiB,
            "resent_mib_max": max(s["kill_resent_bytes"] for s in samples) / MiB,
        }
        out["cases"][name] = {"args": extra, "samples": samples, **figures}
        print(f"{name:24} {figures['mb_per_s']:6.1f} MB/s ({figures['link_share']:.0%} of "
              f"the link)  re-sent after kill {figures['resent_mib']:6.1f} MiB "
              f"(max {figures['resent_mib_max']:.1f})", flush=True)  # fmt: skip
    out["command"] = "python -m benchmarks.slowlink" + (" --quick" if args.quick else "")
    out["python"] = PYTHON
    if not args.quick and not args.only:
        RESULTS.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
