"""The *nightly* scenario (``--incremental``): a first night next to a night where nothing
changed, at growing library sizes.

    python -m benchmarks.nightly            # 20k first night; no-change at 20k, 100k, 1M
    python -m benchmarks.nightly --quick    # 2k; 2k, 20k

A first night sends every file through the sandbox, so it is measured at the smallest size
only (1M files would take about an hour at its rate). The no-change night at the smallest
size runs on the history that first night left; at the larger sizes the history is seeded
(one ``history`` row per file, as a first night writes it: the same line, size and mtime),
since only the decision is measured: a stat, an indexed lookup (batched) and one line per
row. Every no-change night must send no request for any row (the sandbox's counters are
checked; the run's one start-up probe, an E5 for a random ID answered 404, is not a row's).
Writes ``benchmarks/results/nightly.json``; the table in RESULTS.md is copied from it.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import BENCH, PYTHON, WORK, machine_info, run_measured
from benchmarks.services import SANDBOX_KEY, sandbox

PNG = b"\x89PNG\r\n\x1a\n"
PER_DIR = 1000


def library(n: int) -> Path:
    """``n`` tiny PNG files (16 bytes each) and their manifest; reused when already there."""
    root = WORK / "data" / "nightly"
    manifest = root / f"library-{n}.csv"
    if manifest.exists():
        return manifest
    root.mkdir(parents=True, exist_ok=True)
    with manifest.open("w", encoding="utf-8") as out:
        out.write("path\n")
        for i in range(n):
            path = root / "files" / f"d{i // PER_DIR:04d}" / f"f{i:07d}.png"
            if i % PER_DIR == 0:
                path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                path.write_bytes(PNG + i.to_bytes(8, "little"))
            out.write(f"{path}\n")
    return manifest


def seed_history(manifest: Path, report: Path, template: dict[str, Any]) -> None:
    """A journal whose history holds every row of ``manifest`` as reviewed, sweep completed."""
    from batcher.state.store import JournalStore

    journal = report.with_name(report.name + ".journal.sqlite")
    for suffix in ("", "-wal", "-shm"):
        Path(str(journal) + suffix).unlink(missing_ok=True)
    JournalStore(journal, fresh=False, now=time.monotonic).close()
    db = sqlite3.connect(journal)
    now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())

    def rows() -> Any:
        with manifest.open(encoding="utf-8") as fh:
            next(fh)
            for n, text in enumerate(fh, 1):
                path = os.path.realpath(text.strip())
                st = os.stat(path)
                line = {**template, "row": n, "path": text.strip(), "bytes": st.st_size}
                yield ("path:" + path, text.strip(), st.st_size, st.st_mtime_ns, None,
                       template["submissionId"], f"asset-{n}", f"group-{n}", 1, "complete", 1,
                       json.dumps(line), now, "seeded")  # fmt: skip

    with db:
        db.executemany("INSERT INTO history VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows())
        db.execute("INSERT OR REPLACE INTO meta VALUES ('completed', '1')")
    db.close()


def night(manifest: Path, run_dir: Path, report: Path) -> dict[str, Any]:
    with sandbox(run_dir) as sb:
        cmd = [PYTHON, "-m", "batcher", str(manifest), "--base-url", sb.base_url,
               "--report", str(report), "--incremental", "--quiet",
               "--poll-interval", "0.5", "--poll-max-interval", "5",
               "--upload-workers", "16",
               "--summary-json", str(run_dir / "summary.json")]  # fmt: skip
        run = run_measured(cmd, log_dir=run_dir, env={"MEDIAMAGIC_API_KEY": SANDBOX_KEY})
    if run.returncode != 0:
        raise RuntimeError(f"exit {run.returncode}: {run.stderr[-2000:]}")
    summary = json.loads((run_dir / "summary.json").read_text())
    requests = {k: int(v) for k, v in sb.state.get("requests", {}).items() if v}
    # The start-up probe (one E5 for a random ID, answered 404: batcher/api/probe.py) is
    # the run's, not a row's: taken out, so what is left is what rows sent.
    if sb.state.get("responses", {}).get("get_submission:404") and requests.get("get_submission"):
        requests["get_submission"] -= 1
        requests = {k: v for k, v in requests.items() if v}
    rows = summary["rows"]
    return {
        "rows": rows,
        "wall_s": round(run.wall, 2),
        "rows_per_s": round(rows / run.wall),
        "client_cpu_s": round(run.cpu, 2),
        "client_peak_rss_mb": round(run.maxrss_kb / 1024, 1),
        "requests": requests,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "sweep": {k: v for k, v in summary["sweep"].items() if k != "removedPaths"},
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--first", type=int, help="files of the first night (default 20,000)")
    ap.add_argument("--sizes", type=int, nargs="+", help="no-change nights' library sizes")
    args = ap.parse_args()
    quick = (2_000, [2_000, 20_000])
    first_n, sizes = quick if args.quick else (20_000, [20_000, 100_000, 1_000_000])
    first_n, sizes = args.first or first_n, args.sizes or sizes
    out: dict[str, Any] = {"machine": machine_info(), "cases": []}
    base = WORK / "runs" / "nightly"
    report = base / f"first-{first_n}" / "report.jsonl"
    report.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".journal.sqlite", ".journal.sqlite-wal", ".journal.sqlite-shm"):
        Path(str(report) + suffix).unlink(missing_ok=True)
    manifest = library(first_n)
    first = night(manifest, report.parent / "night1", report)
    out["cases"].append({"case": f"first night, {first_n:,} files", **first})
    print(json.dumps(out["cases"][-1]), file=sys.stderr)
    template = json.loads(report.read_text().splitlines()[0])
    for n in sizes:
        run_dir = base / f"nochange-{n}"
        if n == first_n:
            case_report, how = report, "history from the first night"
        else:
            case_report, how = run_dir / "report.jsonl", "history seeded"
            run_dir.mkdir(parents=True, exist_ok=True)
            seed_history(library(n), case_report, template)
        result = night(library(n), run_dir / "night", case_report)
        if result["requests"]:
            raise RuntimeError(f"a no-change night sent requests: {result['requests']}")
        out["cases"].append({"case": f"no-change night, {n:,} files ({how})", **result})
        print(json.dumps(out["cases"][-1]), file=sys.stderr)
    if not args.quick and not args.sizes and not args.first:
        (BENCH / "results" / "nightly.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
