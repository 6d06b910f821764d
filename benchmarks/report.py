"""Results: ratios batcher/peer within one run, and the generated part of RESULTS.md.

RESULTS.md keeps hand-written text outside the GENERATED markers; the runner rewrites only
what is between them, from the latest ``benchmarks/results/<scenario>.json`` of each scenario.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.common import BENCH

RESULTS_DIR = BENCH / "results"
RESULTS_MD = BENCH / "RESULTS.md"
START = "<!-- GENERATED:START (benchmarks/run.py rewrites this part) -->"
END = "<!-- GENERATED:END -->"
ORDER = ("large", "small", "pipeline", "memory")


def _med(summary: dict[str, Any], key: str) -> float | None:
    value = summary.get(key)
    if isinstance(value, dict) and "median" in value:
        return float(value["median"])
    return None


def ratios(cases: list[dict[str, Any]], scenario: str) -> list[dict[str, Any]]:
    """batcher / peer for every batcher case against every peer case on the same server
    (plus, for *small*, the presigned CLI against the Azurite peers, marked cross-server).
    Wall and client CPU per unit (GiB for large, 1,000 files otherwise): < 1 favours batcher."""
    done = [c for c in cases if c.get("summary")]
    unit = "cpu_s_per_gib" if scenario == "large" else "cpu_s_per_1000_files"
    out: list[dict[str, Any]] = []
    for b in (c for c in done if c["tool"] == "batcher"):
        for p in (c for c in done if c["tool"] != "batcher"):
            cross = b["target"] != p["target"]
            if cross and not (scenario == "small" and "presigned" in b["case"]):
                continue
            bw, pw = _med(b["summary"], "wall_s"), _med(p["summary"], "wall_s")
            bc, pc = _med(b["summary"], unit), _med(p["summary"], unit)
            out.append({
                "batcher": f"{b['case']} → {b['target']}",
                "peer": f"{p['case']} → {p['target']}",
                "cross_server": cross,
                "wall_ratio": round(bw / pw, 3) if bw and pw else None,
                "cpu_ratio": round(bc / pc, 3) if bc and pc else None,
                "cpu_unit": unit,
            })  # fmt: skip
    if scenario == "pipeline":
        e2e = next((c for c in done if "end to end" in c["case"]), None)
        alone = next((c for c in done if "alone" in c["case"]), None)
        if e2e and alone:
            ew, aw = _med(e2e["summary"], "wall_s"), _med(alone["summary"], "wall_s")
            delay = _med(e2e["summary"].get("extra", {}), "delay") or 0.0
            if ew and aw:
                out.append({
                    "batcher": "end to end", "peer": "upload stage alone",
                    "cross_server": False, "wall_ratio": round(ew / aw, 3),
                    "cpu_ratio": None, "cpu_unit": unit,
                })  # fmt: skip
                out.append({
                    "batcher": "end to end",
                    "peer": f"upload stage alone + processing delay ({delay:g} s): the floor",
                    "cross_server": False, "wall_ratio": round(ew / (aw + delay), 3),
                    "cpu_ratio": None, "cpu_unit": unit,
                })  # fmt: skip
    return out


def _fmt(summary: dict[str, Any], key: str, digits: int = 2) -> str:
    v = summary.get(key)
    if not isinstance(v, dict):
        return "–"
    med, lo, hi = float(v["median"]), float(v["min"]), float(v["max"])
    if round(lo, digits) == round(hi, digits):
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"


def _requests(summary: dict[str, Any]) -> str:
    reqs = summary.get("requests_per_asset") or {}
    shown = {k: v for k, v in reqs.items() if v and k not in ("CreateContainer",)}
    return ", ".join(f"{k} {v:g}" for k, v in shown.items()) or "–"


def _server(summary: dict[str, Any], part: str) -> str:
    for name in ("azurite", "sandbox"):
        if f"{name}_{part}" in summary:
            return _fmt(summary, f"{name}_{part}", 1 if part == "peak_rss_mb" else 2)
    return "–"


def scenario_md(result: dict[str, Any]) -> str:
    sc = result["scenario"]
    lines = [
        f"### {sc}",
        "",
        f"`{result['command']}` · {result['date']} · runs per case: {result['runs']}",
        "",
    ]
    per = "GiB" if sc in ("large",) else "1,000 files"
    key = "cpu_s_per_gib" if sc == "large" else "cpu_s_per_1000_files"
    if sc == "memory":
        lines += [
            "| case | server | what | client peak RSS MB | baseline RSS MB | budget peak MiB "
            "| wall s | MiB/s | server peak RSS MB |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
    else:
        lines += [
            f"| case | server | wall s | files/s | MiB/s | client CPU s | CPU-s / {per} "
            "| server CPU s | client peak RSS MB | requests per asset | how |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
    for c in result["cases"]:
        s = c.get("summary") or {}
        if not s:
            why = c.get("skipped") or "no samples"
            lines.append(f"| {c['case']} | {c['target']} | skipped: {why} |" + " |" * 8)
            continue
        extra = s.get("extra", {})
        if sc == "memory":
            lines.append(
                f"| {c['case']} | {c['target']} | {c['note']} | "
                f"{_fmt(s, 'client_peak_rss_mb', 1)} | {_fmt(extra, 'baseline_rss_mb', 1)} | "
                f"{_fmt(extra, 'budget_peak_mb', 0)} | {_fmt(s, 'wall_s')} | "
                f"{_fmt(s, 'mib_per_s', 1)} | {_server(s, 'peak_rss_mb')} |"
            )
            continue
        how = c["note"]
        if "polls_per_submission" in extra:
            how += (
                f"; {_fmt(extra, 'submissions', 0)} submissions, "
                f"{_fmt(extra, 'polls_per_submission', 2)} polls/submission"
            )
        if sc == "pipeline" and "last_submission_at_s" in extra:
            how += (
                f"; E4 from {_fmt(extra, 'first_submission_at_s')} s to "
                f"{_fmt(extra, 'last_submission_at_s')} s, then "
                f"{_fmt(extra, 'after_last_submission_s')} s to the end"
            )
        lines.append(
            f"| {c['case']} | {c['target']} | {_fmt(s, 'wall_s')} "
            f"| {_fmt(s, 'files_per_s', 2 if sc == 'large' else 0)} "
            f"| {_fmt(s, 'mib_per_s', 1)} | {_fmt(s, 'client_cpu_s')} | {_fmt(s, key)} "
            f"| {_server(s, 'cpu_s')} | {_fmt(s, 'client_peak_rss_mb', 0)} | {_requests(s)} "
            f"| {how} |"
        )
    rs = result.get("ratios") or []
    if rs:
        lines += [
            "",
            "Ratios batcher / peer (medians of this run; < 1 favours batcher):",
            "",
            f"| batcher | peer | wall ratio | CPU per {per} ratio |",
            "|---|---|---|---|",
        ]
        for r in rs:
            mark = " (cross-server)" if r["cross_server"] else ""
            wall = "–" if r["wall_ratio"] is None else f"{r['wall_ratio']:.2f}"
            cpu = "–" if r["cpu_ratio"] is None else f"{r['cpu_ratio']:.2f}"
            lines.append(f"| {r['batcher']} | {r['peer']}{mark} | {wall} | {cpu} |")
    return "\n".join(lines) + "\n"


def generated_md(results: list[dict[str, Any]]) -> str:
    if not results:
        return "(no results yet)\n"
    latest = max(results, key=lambda r: str(r["date"]))
    m = latest["machine"]
    parts = [
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['mem_gib']} GiB, Linux {m['kernel']}, "
        f"Python {m['python']}. Load average at start of each run is in its JSON.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in latest["versions"].items()),
        "",
    ]
    for r in sorted(results, key=lambda r: ORDER.index(r["scenario"])):
        r["ratios"] = ratios(r["cases"], r["scenario"])  # the current pairing rules
        parts.append(scenario_md(r))
    return "\n".join(parts)


def load_results() -> list[dict[str, Any]]:
    out = []
    for sc in ORDER:
        path = RESULTS_DIR / f"{sc}.json"
        if path.exists():
            out.append(json.loads(path.read_text()))
    return out


def write_results_md(path: Path = RESULTS_MD) -> None:
    body = generated_md(load_results())
    text = path.read_text() if path.exists() else f"# Benchmark results\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text += f"\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{body}\n{END}{tail}")
