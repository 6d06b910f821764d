"""Run benchmark scenarios and record the results.

    python benchmarks/run.py large                 # one scenario, 3 runs per case
    python benchmarks/run.py all --quick           # every scenario, small sizes, 1 run
    python benchmarks/run.py small --profile       # batcher cases once under py-spy

Each case runs as its own process against a fresh server (Azurite or the sandbox); results go
to benchmarks/results/<scenario>.json and the generated part of benchmarks/RESULTS.md (not
for --quick/--tiny unless --record). Exit 1 if any case failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import peers, profiles, report
from benchmarks.common import BENCH, PROFILE, WORK, CaseResult, machine_info
from benchmarks.scenarios import SCENARIOS, HarnessError, Params, run_dir_for


def run_scenario(
    name: str,
    params: Params,
    runs: int,
    *,
    only: list[str] | None = None,
    targets: tuple[str, ...] = ("azurite", "sandbox"),
    echo: bool = True,
    ab_dir: Path | None = None,
) -> dict[str, Any]:
    cases = [c for c in SCENARIOS[name](params) if c.target in targets]
    if only:
        cases = [c for c in cases if any(o.lower() in c.name.lower() for o in only)]
    if ab_dir is not None:  # every batcher case twice: this tree, and an older checkout
        before = [
            dataclasses.replace(c, name=f"{c.name} [before]", tool="batcher-before")
            for c in cases
            if c.tool == "batcher"
        ]
        cases = [x for c in cases for x in ([c, *[b for b in before if b.run is c.run]])]
    results = [CaseResult(name, c.name, c.tool, c.target, c.note) for c in cases]
    for case, result in zip(cases, results, strict=True):
        result.skipped = case.missing()
    for i in range(runs):  # round-robin: every case once per round
        for case, result in zip(cases, results, strict=True):
            if result.skipped or (case.max_runs is not None and i >= case.max_runs):
                continue
            t0 = time.monotonic()
            if case.tool == "batcher-before" and ab_dir is not None:
                PROFILE.client_cwd = _ab_tree(ab_dir)
            try:
                sample = case.run(run_dir_for(name, case, i))
            except HarnessError as exc:
                result.skipped = f"failed: {str(exc).splitlines()[0][:200]}"
                print(f"  ! {case.name} → {case.target}: {exc}", file=sys.stderr)
                continue
            finally:
                PROFILE.client_cwd = None
            sample.extra.update(case.extra)
            result.samples.append(sample)
            if echo:
                print(
                    f"  [{name} {i + 1}/{runs}] {case.name} → {case.target}: "
                    f"{sample.wall:.2f} s, client CPU {sample.client_cpu:.2f} s, "
                    f"RSS {sample.client_rss_mb:.0f} MB ({time.monotonic() - t0:.0f} s)",
                    flush=True,
                )
    out_cases = [
        {**asdict(r), "samples": [asdict(s) for s in r.samples], "summary": r.summary()}
        for r in results
    ]
    return {
        "scenario": name,
        "runs": runs,
        "params": asdict(params),
        "cases": out_cases,
        "ratios": report.ratios(out_cases, name),
    }


def _ab_tree(ab_dir: Path) -> Path:
    """An older checkout's ``batcher`` with this tree's ``benchmarks`` beside it."""
    link = ab_dir / "benchmarks"
    if not link.exists():
        link.symlink_to(BENCH)
    return ab_dir


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("scenario", choices=[*SCENARIOS, "all"])
    ap.add_argument("--runs", type=int, default=None, help="runs per case (default 3; quick 1)")
    ap.add_argument("--quick", action="store_true", help="small sizes, 1 run (a few minutes)")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes (the smoke test's)")
    ap.add_argument("--only", action="append", help="only cases whose name contains this")
    ap.add_argument("--out", type=Path, help="also write the result JSON here")
    ap.add_argument("--record", action="store_true", help="record --quick/--tiny runs too")
    ap.add_argument(
        "--ab", type=Path, metavar="DIR",
        help="A/B: also run every batcher case (and its sandbox) from DIR (an older batcher/)",
    )  # fmt: skip
    ap.add_argument("--render", action="store_true", help="only rewrite RESULTS.md from results/")
    ap.add_argument("--prepare", action="store_true", help="only write the data sets")
    ap.add_argument(
        "--profile", action="store_true", help="batcher cases once under py-spy (profiles/)"
    )
    args = ap.parse_args(argv)
    params = Params.tiny() if args.tiny else Params.quick() if args.quick else Params()
    runs = args.runs or (1 if (args.quick or args.tiny or args.profile) else 3)
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    command = "python benchmarks/run.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    if args.render:
        report.write_results_md()
        return 0
    if args.prepare:
        for name in names:
            cases = SCENARIOS[name](params)  # building the cases writes their data
            print(f"  {name}: {len(cases)} cases, data in {WORK / 'data'}")
        return 0
    if args.profile:
        return profiles.profile(names, params, args.only)
    failed = False
    all_results: list[dict[str, Any]] = []
    meta = {"machine": machine_info(), "versions": peers.versions()}
    for name in names:
        print(f"== {name}", flush=True)
        result = run_scenario(name, params, runs, only=args.only, ab_dir=args.ab)
        result.update(meta, command=command, date=datetime.now(UTC).isoformat(timespec="seconds"))
        failed |= any(str(c.get("skipped") or "").startswith("failed") for c in result["cases"])
        all_results.append(result)
        print(report.scenario_md(result), flush=True)
        if args.record or not (args.quick or args.tiny or args.only or args.ab):
            report.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            (report.RESULTS_DIR / f"{name}.json").write_text(json.dumps(result, indent=1))
            report.write_results_md()
    if args.out:
        args.out.write_text(json.dumps(all_results, indent=1))
    print(f"results: {BENCH / 'RESULTS.md'}" if not args.quick else "", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
