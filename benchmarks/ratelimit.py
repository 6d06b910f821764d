"""A rate-limited run against its floor: N small files (direct upload, E2) with the upload,
submission_write and submission_read buckets all limited to R requests/s, 40 ms added to
every request, Retry-After 5 s and 30 s, and the same with the user's cap ``--max-rate``
just under the limit.

    python -m benchmarks.ratelimit [--files 300] [--rate 25] [--processing 1] [--latency 0.04]
        [--retry-after 5 30] [--cap 24] [--no-next-night] [--client-tree DIR] [--out FILE.json]

Each case is the real CLI (``python -m batcher MANIFEST --base-url ...`` with
``MEDIAMAGIC_API_KEY=sk_test_bench``) against a fresh sandbox in its own process
(``benchmarks.sandbox_server`` with ``--rate-limit``/``--latency``), so every case meets full
buckets. A first run starts with no journal (it must learn the limits from 429s); each
Retry-After is then run again as the *next night*: the same command, report and base URL
(a new sandbox on the same port, buckets full again), so the client starts from the rates
the first night learned (``batcher/pacing/memory.py``). Prints one JSON line per case: wall
(fork to exit), the CLI's own wall time, the floor and wall/floor, 429s and early requests as
the sandbox counted them, report statuses.

The floor is what no client can beat on this sandbox: the N uploads at R/s (N/R; the bucket's
burst of R would let the first R go at once, so the strict bound is 1 s lower), plus the
processing delay of the last batch (it cannot start before the last upload), plus that
batch's result fetches (E6, one per asset) at R/s. ``--client-tree`` runs the client from
another checkout (its own ``batcher/``), e.g. the commit before the pacing work.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import data
from benchmarks.common import REPO, WORK, run_measured
from benchmarks.scenarios import _report_statuses, cli_args
from benchmarks.services import SANDBOX_KEY, sandbox

_RUN_WALL = re.compile(r"wall time\s+([\d,.]+) s")
_PACING = re.compile(r"^\s+(\w+ bucket: .*)$", re.MULTILINE)
BATCH_SIZE = 50  # the CLI's default --batch-size, used for the floor's last batch
BUCKETS = ("upload", "submission_write", "submission_read")


def dataset(files: int) -> Path:
    """``files`` PNGs of ~2 KB (distinct bytes), and their manifest."""
    root = WORK / "data" / f"ratelimit-{files}"
    rel = [f"f{i:05}.png" for i in range(files)]
    for i, name in enumerate(rel):
        path = root / name
        if not path.exists():
            data.write_file(path, 2_000 + i, f"ratelimit-{i}")
    return data.write_manifest(root / "manifest.csv", rel)


def _throttle_events(log: Path) -> list[str]:
    """Each bucket-closing 429 as the client logged it: bucket and the rate it then paced at."""
    events = []
    for text in log.read_text().splitlines() if log.exists() else []:
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("event") == "throttled" and "rate" in line:
            events.append(f"{line.get('bucket')} -> {line.get('rate')}/s")
    return events


def floor_seconds(files: int, rate: float, processing: float) -> float:
    return files / rate + processing + min(files, BATCH_SIZE) / rate


def run_case(
    name: str,
    manifest: Path,
    files: int,
    args: argparse.Namespace,
    retry_after: int,
    extra: list[str],
    *,
    run_dir: Path | None = None,
    port: int | None = None,
) -> dict[str, Any]:
    """One run; with ``run_dir`` and ``port`` of an earlier case, its next night."""
    if run_dir is None:
        run_dir = WORK / "runs" / "ratelimit" / re.sub(r"\W+", "-", name).strip("-")
        shutil.rmtree(run_dir, ignore_errors=True)  # no journal: nothing learned yet
    limits = [f"--rate-limit={b}={args.rate:g}::{retry_after}" for b in BUCKETS]
    sb_args = [*limits, "--retry-after", str(retry_after), "--latency", str(args.latency)]
    log = run_dir / "log.jsonl"
    log.unlink(missing_ok=True)
    with sandbox(run_dir, processing_delay=args.processing, extra_args=sb_args, port=port) as sb:
        cmd = cli_args(sb, manifest, run_dir, [*extra, "--log-file", str(log)])
        run = run_measured(
            cmd,
            log_dir=run_dir,
            env={"MEDIAMAGIC_API_KEY": SANDBOX_KEY},
            cwd=args.client_tree or REPO,
        )
    state = sb.state
    statuses = _report_statuses(run_dir / "report.jsonl")
    floor = floor_seconds(files, args.rate, args.processing)
    m = _RUN_WALL.search(run.stderr)
    return {
        "case": name,
        "run_dir": str(run_dir),
        "base_url": sb.base_url,
        "exit": run.returncode,
        "wall_s": round(run.wall, 2),
        "run_wall_s": float(m.group(1).replace(",", "")) if m else None,
        "floor_s": round(floor, 2),
        "wall_over_floor": round(run.wall / floor, 3),
        "run_wall_over_floor": round(float(m.group(1).replace(",", "")) / floor, 3) if m else None,
        "floor_without_fetches_s": round(floor - min(files, BATCH_SIZE) / args.rate, 2),
        "http_429": dict(state.get("rate_limited", {})),
        "early_requests": len(state.get("rate_limit_violations", [])),
        "bucket_requests": dict(state.get("bucket_requests", {})),
        "requests": dict(state.get("requests", {})),
        "rows": statuses,
        "rows_complete": statuses.get("complete", 0),
        "pacing": _PACING.findall(run.stderr),
        "throttled": _throttle_events(log),
        "client_cpu_s": round(run.cpu, 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--files", type=int, default=300)
    p.add_argument("--rate", type=float, default=25.0, help="requests/s in each bucket")
    p.add_argument("--processing", type=float, default=1.0, help="sandbox processing delay, s")
    p.add_argument("--latency", type=float, default=0.04, help="seconds added to every request")
    p.add_argument("--retry-after", type=int, nargs="+", default=[5, 30])
    p.add_argument(
        "--cap", type=float, default=24.0, help="--max-rate for the capped case (0: no such case)"
    )
    p.add_argument(
        "--no-next-night", action="store_true", help="skip the runs that start from learned rates"
    )
    p.add_argument("--client-tree", type=Path, default=None, help="run the client from here")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON lines here")
    args = p.parse_args(argv)
    manifest = dataset(args.files)
    cap = ",".join(f"{b}={args.cap:g}" for b in BUCKETS)
    cases: list[tuple[str, int, list[str]]] = [
        (f"Retry-After {ra} s", ra, []) for ra in args.retry_after
    ]
    ra0 = args.retry_after[0]
    if args.cap > 0:
        cases.append((f"Retry-After {ra0} s, --max-rate {args.cap:g}", ra0, ["--max-rate", cap]))
    # NOTICE keeps the throttled events in --log-file; an older client may only have -q.
    level = ["--quiet"] if args.client_tree else ["--log-level", "NOTICE"]
    results = []
    for name, retry_after, extra in cases:
        if args.client_tree is not None:
            name += f" [client from {args.client_tree}]"
        result = run_case(name, manifest, args.files, args, retry_after, [*level, *extra])
        results.append(result)
        print(json.dumps(result), flush=True)
        if extra or args.no_next_night or args.client_tree is not None:
            continue
        port = int(str(result["base_url"]).rsplit(":", 1)[1])
        night = run_case(
            f"{name}, next night (learned rates)",
            manifest,
            args.files,
            args,
            retry_after,
            level,
            run_dir=Path(str(result["run_dir"])),
            port=port,
        )
        results.append(night)
        print(json.dumps(night), flush=True)
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in results))
    ok = all(r["rows_complete"] == args.files and not r["early_requests"] for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
