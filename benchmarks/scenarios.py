"""The four scenarios (large, small, pipeline, memory) as lists of cases; one case = one client
against one fresh server, measured N times (round-robin over the cases, so drift in the
machine's load spreads over every client alike)."""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import data, peers
from benchmarks.common import PYTHON, WORK, MiB, ProcRun, Sample, run_measured
from benchmarks.services import CONTAINER, SANDBOX_KEY, Azurite, SandboxProc, azurite, sandbox


@dataclass(frozen=True)
class Params:
    """Sizes of every scenario; ``quick()`` shrinks them for a fast look or the smoke test."""

    large_files: int = 2
    large_size: int = 512 * MiB
    small_files: int = 2000
    small_size: int = 100_000
    small_concurrency: int = 16
    block_mib: int = 8
    block_concurrency_total: int = 8
    mixed_files: int = 1000
    processing_delay: float = 1.0
    mem_big_size: int = 3 << 30
    mem_gb_size: int = 1 << 30
    mem_budgets: tuple[int, ...] = (64, 256)
    rows: tuple[int, ...] = (10_000, 1_000_000)

    @classmethod
    def quick(cls) -> Params:
        return cls(
            large_files=2, large_size=64 * MiB, small_files=300, mixed_files=200,
            processing_delay=0.5, mem_big_size=512 * MiB, mem_gb_size=256 * MiB,
            rows=(1_000, 20_000),
        )  # fmt: skip

    @classmethod
    def tiny(cls) -> Params:
        """For tests/test_benchmarks_smoke.py: seconds, not minutes."""
        return cls(
            large_files=1, large_size=20 * MiB, small_files=12, small_size=20_000,
            small_concurrency=4, mixed_files=12, processing_delay=0.1,
            mem_big_size=24 * MiB, mem_gb_size=24 * MiB, mem_budgets=(16,), rows=(50, 200),
        )  # fmt: skip


@dataclass
class Case:
    scenario: str
    name: str
    tool: str
    target: str
    note: str
    run: Callable[[Path], Sample]
    needs: str | None = None
    """A peer binary this case needs ("azcopy", "rclone"); skipped when it is missing."""
    extra: dict[str, Any] = field(default_factory=dict)
    max_runs: int | None = None
    """Cap on runs for a case too slow to repeat (the 1M-row manifest: one run)."""

    def missing(self) -> str | None:
        if self.needs == "azcopy" and peers.azcopy_bin() is None:
            return "azcopy not installed (benchmarks/setup.sh)"
        if self.needs == "rclone" and peers.rclone_bin() is None:
            return "rclone not installed (benchmarks/setup.sh)"
        return None


class HarnessError(RuntimeError):
    pass


def _check(run: ProcRun, what: str) -> None:
    if run.returncode not in (0,):
        raise HarnessError(
            f"{what}: exit {run.returncode}\n{run.stderr[-3000:]}\n{run.stdout[-1000:]}"
        )


def _write_job(run_dir: Path, job: dict[str, Any]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "job.json"
    path.write_text(json.dumps(job))
    return path


def _client(module: str, job: Path) -> list[str]:
    return [PYTHON, "-m", f"benchmarks.clients.{module}", str(job)]


# --- Azurite-side cases ---------------------------------------------------------------------


def _on_azurite(
    run_dir: Path,
    ds: data.Dataset,
    build: Callable[[Azurite, Path], tuple[list[str], dict[str, str]]],
    what: str,
) -> Sample:
    with azurite(run_dir) as az:
        cmd, env = build(az, run_dir)
        offset = az.log_offset()
        cpu0 = az.cpu()
        run = run_measured(cmd, log_dir=run_dir, env=env)
        server_cpu = az.cpu() - cpu0
        _check(run, what)
        count, nbytes = az.listing()
        requests = az.requests_since(offset)
        requests.pop("List", None)  # our own check, and rclone's destination listing
        rss = az.peak_rss_mb()
    if (count, nbytes) != (ds.count, ds.total_bytes):
        raise HarnessError(f"{what}: Azurite holds {count} blobs / {nbytes} B, expected "
                           f"{ds.count} / {ds.total_bytes}")  # fmt: skip
    return _sample(run, ds, {"azurite": server_cpu}, {"azurite": rss}, requests)


def _sample(
    run: ProcRun,
    ds: data.Dataset,
    cpu: dict[str, float],
    rss: dict[str, float],
    requests: dict[str, int],
    extra: dict[str, Any] | None = None,
) -> Sample:
    tail = run.json_tail()
    figures = {k: v for k, v in tail.items() if isinstance(v, int | float)}
    return Sample(
        wall=run.wall,
        client_cpu=run.cpu,
        client_rss_mb=run.maxrss_kb / 1024,
        files=ds.count,
        bytes=ds.total_bytes,
        server_cpu=cpu,
        server_rss_mb=rss,
        requests=requests,
        extra={**figures, "client_user_s": run.cpu_user, "client_sys_s": run.cpu_sys,
               **(extra or {})},
    )  # fmt: skip


def _files(ds: data.Dataset, url_of: Callable[[Path], str]) -> list[dict[str, Any]]:
    return [
        {"path": str(p), "size": p.stat().st_size, "name": p.name, "url": url_of(p)}
        for p in ds.files
    ]


def batcher_blob_azurite(
    ds: data.Dataset,
    *,
    block_mib: int,
    per_file: int,
    files_at_once: int,
    budget_mib: int,
    adaptive: bool = True,
) -> Callable[[Path], Sample]:
    def build(az: Azurite, run_dir: Path) -> tuple[list[str], dict[str, str]]:
        sas = az.container_sas()
        job = {
            "files": _files(ds, lambda p: f"{az.container_url()}/{p.name}?{sas}"),
            "block_size": block_mib * MiB,
            "block_concurrency": per_file,
            "budget": budget_mib * MiB,
            "files_at_once": files_at_once,
            "adaptive": adaptive,
        }
        return _client("batcher_blob", _write_job(run_dir, job)), {}

    return lambda run_dir: _on_azurite(run_dir, ds, build, "batcher blob → Azurite")


def aiohttp_azurite(
    ds: data.Dataset, *, mode: str, block_mib: int, concurrency: int, md5: bool = True
) -> Callable[[Path], Sample]:
    def build(az: Azurite, run_dir: Path) -> tuple[list[str], dict[str, str]]:
        sas = az.container_sas()
        job = {
            "files": _files(ds, lambda p: f"{az.container_url()}/{p.name}?{sas}"),
            "mode": mode,
            "block_size": block_mib * MiB,
            "concurrency": concurrency,
            "md5": md5,
        }
        return _client("aiohttp_blob", _write_job(run_dir, job)), {}

    return lambda run_dir: _on_azurite(run_dir, ds, build, "aiohttp → Azurite")


def sdk_azurite(
    ds: data.Dataset, *, mode: str, block_mib: int, concurrency: int
) -> Callable[[Path], Sample]:
    def build(az: Azurite, run_dir: Path) -> tuple[list[str], dict[str, str]]:
        job = {
            "connection_string": az.connection_string,
            "container": CONTAINER,
            "files": _files(ds, lambda p: ""),
            "mode": mode,
            "block_size": block_mib * MiB,
            "concurrency": concurrency,
        }
        return _client("sdk_blob", _write_job(run_dir, job)), {}

    return lambda run_dir: _on_azurite(run_dir, ds, build, "SDK → Azurite")


def azcopy_azurite(
    ds: data.Dataset, *, block_mib: int, concurrency: int
) -> Callable[[Path], Sample]:
    def build(az: Azurite, run_dir: Path) -> tuple[list[str], dict[str, str]]:
        dest = f"{az.container_url()}?{az.container_sas()}"
        cmd = peers.azcopy_cmd(f"{ds.folder}/*", dest, block_mib=block_mib)
        return cmd, peers.azcopy_env(run_dir, concurrency)

    return lambda run_dir: _on_azurite(run_dir, ds, build, "azcopy → Azurite")


def rclone_azurite(ds: data.Dataset, extra: list[str]) -> Callable[[Path], Sample]:
    def build(az: Azurite, run_dir: Path) -> tuple[list[str], dict[str, str]]:
        cmd = peers.rclone_cmd(ds.folder, f":azureblob:{CONTAINER}", extra)
        return cmd, peers.rclone_env(az.container_url(), az.container_sas())

    return lambda run_dir: _on_azurite(run_dir, ds, build, "rclone → Azurite")


# --- sandbox-side cases ---------------------------------------------------------------------

_SUMMARY = re.compile(r"(\d+) submissions, (\d+) polls")


def cli_args(sb: SandboxProc, manifest: Path, run_dir: Path, extra: list[str]) -> list[str]:
    return [
        PYTHON, "-m", "batcher", str(manifest), "--base-url", sb.base_url,
        "--report", str(run_dir / "report.jsonl"), "--fresh",
        "--poll-interval", "0.5", "--poll-max-interval", "5", *extra,
    ]  # fmt: skip


def _report_statuses(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    if path.exists():
        with path.open() as fh:
            for line in fh:
                status = json.loads(line).get("status", "?")
                counts[status] = counts.get(status, 0) + 1
    return counts


def _sandbox_requests(state: dict[str, Any]) -> dict[str, int]:
    reqs = dict(state.get("requests", {}))
    return {k: int(v) for k, v in reqs.items()}


def batcher_cli_sandbox(
    ds: data.Dataset,
    extra: list[str],
    *,
    processing_delay: float = 0.0,
    expect_status: str = "complete",
) -> Callable[[Path], Sample]:
    def run_once(run_dir: Path) -> Sample:
        with sandbox(run_dir, processing_delay=processing_delay) as sb:
            cmd = cli_args(sb, ds.manifest, run_dir, extra)
            cpu0 = sb.cpu()
            run = run_measured(cmd, log_dir=run_dir, env={"MEDIAMAGIC_API_KEY": SANDBOX_KEY})
            cpu = sb.cpu() - cpu0
            rss = sb.peak_rss_mb()
        statuses = _report_statuses(run_dir / "report.jsonl")
        if statuses.get(expect_status, 0) != ds.count:
            raise HarnessError(
                f"batcher CLI: report statuses {statuses}, expected {ds.count} {expect_status}"
                f" (exit {run.returncode})\n{run.stderr[-3000:]}"
            )
        state = sb.state
        subs = int(state.get("created_submissions", 0))
        extra_figs: dict[str, Any] = {"submissions": subs}
        if subs:
            extra_figs["polls_per_submission"] = (
                _sandbox_requests(state).get("get_submission", 0) / subs
            )
        times = [float(t) - run.t0_epoch for t in state.get("submission_times", [])]
        if times and run.t0_epoch:
            extra_figs["first_submission_at_s"] = times[0]
            extra_figs["last_submission_at_s"] = times[-1]
            extra_figs["after_last_submission_s"] = run.wall - times[-1]
        m = _SUMMARY.search(run.stderr)
        if m:
            extra_figs["summary_polls"] = int(m.group(2))
        return _sample(
            run, ds, {"sandbox": cpu}, {"sandbox": rss}, _sandbox_requests(state), extra_figs
        )

    return run_once


def _sandbox_upload_urls(sb: SandboxProc, ds: data.Dataset) -> dict[Path, str]:
    """E1 for every file, asked by the runner before the client starts (not measured)."""
    urls: dict[Path, str] = {}
    for i, p in enumerate(ds.files):
        body = json.dumps({"filename": f"{i}-{p.name}", "contentType": "video/mp4"}).encode()
        req = urllib.request.Request(
            f"{sb.base_url}/api/integrations/uploads/url",
            data=body,
            headers={"X-API-Key": SANDBOX_KEY, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            urls[p] = json.loads(resp.read())["uploadUrl"]
    return urls


def client_on_sandbox_blob(
    ds: data.Dataset, module: str, job_extra: dict[str, Any]
) -> Callable[[Path], Sample]:
    """A blob client (batcher_blob or aiohttp_blob) against the sandbox's blob endpoint."""

    def run_once(run_dir: Path) -> Sample:
        with sandbox(run_dir) as sb:
            urls = _sandbox_upload_urls(sb, ds)
            job = {"files": _files(ds, lambda p: urls[p]), **job_extra}
            cmd = _client(module, _write_job(run_dir, job))
            cpu0 = sb.cpu()
            run = run_measured(cmd, log_dir=run_dir)
            cpu = sb.cpu() - cpu0
            rss = sb.peak_rss_mb()
        _check(run, f"{module} → sandbox blob")
        reqs = {k: v for k, v in _sandbox_requests(sb.state).items() if k != "upload_url"}
        return _sample(run, ds, {"sandbox": cpu}, {"sandbox": rss}, reqs)

    return run_once


def aiohttp_direct_sandbox(ds: data.Dataset, concurrency: int) -> Callable[[Path], Sample]:
    from batcher.rows.preflight import guess_content_type

    def run_once(run_dir: Path) -> Sample:
        with sandbox(run_dir) as sb:
            files = [
                {"path": str(p), "name": f"{i}-{p.name}", "content_type": guess_content_type(p)}
                for i, p in enumerate(ds.files)
            ]
            job = {
                "base_url": sb.base_url,
                "api_key": SANDBOX_KEY,
                "files": files,
                "concurrency": concurrency,
            }
            cmd = _client("aiohttp_direct", _write_job(run_dir, job))
            cpu0 = sb.cpu()
            run = run_measured(cmd, log_dir=run_dir)
            cpu = sb.cpu() - cpu0
            rss = sb.peak_rss_mb()
        _check(run, "aiohttp direct → sandbox")
        return _sample(run, ds, {"sandbox": cpu}, {"sandbox": rss}, _sandbox_requests(sb.state))

    return run_once


def batcher_uploads_only(
    ds: data.Dataset, extra: dict[str, Any] | None = None
) -> Callable[[Path], Sample]:
    """batcher's upload stage alone (its own functions, no submit/poll), against the sandbox."""

    def run_once(run_dir: Path) -> Sample:
        with sandbox(run_dir) as sb:
            job = {
                "base_url": sb.base_url,
                "api_key": SANDBOX_KEY,
                "manifest": str(ds.manifest),
                "journal": str(run_dir / "journal.sqlite"),
                **(extra or {}),
            }
            cmd = _client("batcher_uploads", _write_job(run_dir, job))
            cpu0 = sb.cpu()
            run = run_measured(cmd, log_dir=run_dir)
            cpu = sb.cpu() - cpu0
            rss = sb.peak_rss_mb()
        _check(run, "batcher upload stage → sandbox")
        return _sample(run, ds, {"sandbox": cpu}, {"sandbox": rss}, _sandbox_requests(sb.state))

    return run_once


# --- the scenarios ---------------------------------------------------------------------------


def large_cases(p: Params) -> list[Case]:
    ds = data.large(p.large_files, p.large_size)
    b, total = p.block_mib, p.block_concurrency_total
    per_file = max(1, total // p.large_files)
    s = "large"
    return [
        Case(s, "batcher blob uploader", "batcher", "azurite",
             f"{p.large_files} files at once × {per_file} blocks, budget 256 MiB, MD5 per block",
             batcher_blob_azurite(ds, block_mib=b, per_file=per_file,
                                  files_at_once=p.large_files, budget_mib=256)),
        Case(s, "batcher blob uploader, fixed", "batcher", "azurite",
             f"as above with --fixed-concurrency: always {per_file} blocks per file",
             batcher_blob_azurite(ds, block_mib=b, per_file=per_file,
                                  files_at_once=p.large_files, budget_mib=256, adaptive=False)),
        Case(s, "batcher CLI (full run)", "batcher", "sandbox",
             f"--block-concurrency {per_file}, upload + E4 + polls, processing 0 s",
             batcher_cli_sandbox(ds, ["--block-size", str(b),
                                      "--block-concurrency", str(per_file)])),
        Case(s, "aiohttp bare loop", "aiohttp", "sandbox",
             f"{total} blocks in flight, MD5 per block: the sandbox's blob ceiling",
             client_on_sandbox_blob(ds, "aiohttp_blob", {"mode": "blocks", "block_size": b * MiB,
                                                         "concurrency": total, "md5": True})),
        Case(s, "aiohttp bare loop", "aiohttp", "azurite",
             f"{total} blocks in flight, MD5 per block",
             aiohttp_azurite(ds, mode="blocks", block_mib=b, concurrency=total)),
        Case(s, "aiohttp bare loop, no MD5", "aiohttp", "azurite",
             f"{total} blocks in flight, no Content-MD5",
             aiohttp_azurite(ds, mode="blocks", block_mib=b, concurrency=total, md5=False)),
        Case(s, "Azure SDK aio", "sdk", "azurite",
             f"files in turn, max_concurrency {total}, no MD5 (SDK default)",
             sdk_azurite(ds, mode="blocks", block_mib=b, concurrency=total)),
        Case(s, "AzCopy", "azcopy", "azurite",
             f"AZCOPY_CONCURRENCY_VALUE={total}, --block-size-mb {b}",
             azcopy_azurite(ds, block_mib=b, concurrency=total), needs="azcopy"),
        Case(s, "rclone", "rclone", "azurite",
             f"--transfers 1 --azureblob-upload-concurrency {total} --azureblob-chunk-size {b}M",
             rclone_azurite(ds, ["--transfers", "1", "--azureblob-upload-concurrency",
                                 str(total), "--azureblob-chunk-size", f"{b}M"]),
             needs="rclone"),
    ]  # fmt: skip


def small_cases(p: Params) -> list[Case]:
    ds = data.small(p.small_files, p.small_size)
    c, s = p.small_concurrency, "small"
    return [
        Case(s, "batcher CLI direct (E2)", "batcher", "sandbox",
             f"--upload-workers {c}, upload + E4 + polls, processing 0 s",
             batcher_cli_sandbox(ds, ["--upload-workers", str(c)])),
        Case(s, "aiohttp bare loop direct (E2)", "aiohttp", "sandbox",
             f"{c} multipart POSTs in flight, nothing else",
             aiohttp_direct_sandbox(ds, c)),
        Case(s, "batcher upload stage direct (E2)", "batcher", "sandbox",
             f"batcher's upload functions alone, {c} workers (no E4/polls)",
             batcher_uploads_only(ds, {"workers": c})),
        Case(s, "batcher CLI presigned", "batcher", "sandbox",
             f"--direct-max-bytes 0 --upload-workers {c}: E1 + Put Blob per file",
             batcher_cli_sandbox(ds, ["--upload-workers", str(c), "--direct-max-bytes", "0"])),
        Case(s, "batcher blob uploader", "batcher", "azurite",
             f"Put Blob per file, {c} files at once, MD5",
             batcher_blob_azurite(ds, block_mib=p.block_mib, per_file=1, files_at_once=c,
                                  budget_mib=256)),
        Case(s, "aiohttp bare loop", "aiohttp", "azurite", f"Put Blob, {c} in flight, MD5",
             aiohttp_azurite(ds, mode="put", block_mib=p.block_mib, concurrency=c)),
        Case(s, "Azure SDK aio", "sdk", "azurite", f"{c} tasks, upload_blob each",
             sdk_azurite(ds, mode="put", block_mib=p.block_mib, concurrency=c)),
        Case(s, "AzCopy", "azcopy", "azurite", f"AZCOPY_CONCURRENCY_VALUE={c}, defaults",
             azcopy_azurite(ds, block_mib=p.block_mib, concurrency=c), needs="azcopy"),
        Case(s, "rclone", "rclone", "azurite", f"--transfers {c} --checkers {c}",
             rclone_azurite(ds, ["--transfers", str(c), "--checkers", str(c)]),
             needs="rclone"),
    ]  # fmt: skip


def pipeline_cases(p: Params) -> list[Case]:
    ds = data.mixed(p.mixed_files)
    d, s = p.processing_delay, "pipeline"
    return [
        Case(s, "batcher CLI end to end", "batcher", "sandbox",
             f"processing delay {d:g} s, batch 50, defaults otherwise",
             batcher_cli_sandbox(ds, [], processing_delay=d), extra={"delay": d}),
        Case(s, "batcher upload stage alone", "batcher", "sandbox",
             "the same files through batcher's upload functions only (8 workers)",
             batcher_uploads_only(ds, {"workers": 8})),
    ]  # fmt: skip


def memory_cases(p: Params) -> list[Case]:
    s = "memory"
    big = data.one_big(p.mem_big_size)
    gb = data.one_big(p.mem_gb_size)
    cases: list[Case] = []
    for budget in p.mem_budgets:
        conc = max(1, 2 * budget // p.block_mib)  # twice what the budget lets through
        cases.append(
            Case(
                s,
                f"blob uploader, {_size(big.total_bytes)}, budget {budget} MiB",
                "batcher",
                "azurite",
                f"block concurrency {conc}: twice what the budget lets through",
                batcher_blob_azurite(
                    big, block_mib=p.block_mib, per_file=conc, files_at_once=1, budget_mib=budget
                ),
                extra={"budget_mib": budget},
            )
        )
    budget = p.mem_budgets[0]
    conc = max(1, 2 * budget // p.block_mib)
    cases.append(
        Case(
            s,
            f"issue 3: blob uploader, {_size(gb.total_bytes)}, budget {budget} MiB",
            "batcher",
            "azurite",
            f"block concurrency {conc}",
            batcher_blob_azurite(
                gb, block_mib=p.block_mib, per_file=conc, files_at_once=1, budget_mib=budget
            ),
            extra={"budget_mib": budget},
        )
    )
    cases.append(
        Case(
            s,
            f"issue 3: CLI, {_size(gb.total_bytes)}, --memory-budget {budget}",
            "batcher",
            "sandbox",
            f"--block-concurrency {conc}; full run (E1, blocks, E4, polls)",
            batcher_cli_sandbox(
                gb, ["--memory-budget", str(budget), "--block-concurrency", str(conc)]
            ),
            extra={"budget_mib": budget},
        )
    )
    for rows in p.rows:
        manifest = data.missing_rows(rows)
        ds = data.Dataset(f"rows-{rows}", manifest.parent, [manifest] * rows, 0, manifest)
        cases.append(
            Case(
                s,
                f"CLI, {rows:,} rows",
                "batcher",
                "sandbox",
                f"{rows:,} rows naming missing files: pre-flight errors, no uploads",
                batcher_cli_sandbox(ds, [], expect_status="error"),
                extra={"rows": rows},
                max_runs=1 if rows >= 500_000 else None,
            )
        )
    return cases


def _size(n: int) -> str:
    return f"{n / (1 << 30):g} GiB" if n >= 1 << 30 else f"{n // MiB} MiB"


SCENARIOS: dict[str, Callable[[Params], list[Case]]] = {
    "large": large_cases,
    "small": small_cases,
    "pipeline": pipeline_cases,
    "memory": memory_cases,
}


def run_dir_for(scenario: str, case: Case, index: int) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", f"{case.name}-{case.target}".lower()).strip("-")
    return WORK / "runs" / scenario / slug / f"run{index}"


def cleanup_run_dir(path: Path) -> None:
    """Keep logs, drop bulk (the sandbox store is removed by the sandbox itself)."""
    for name in ("job.json",):
        target = path / name
        if target.exists() and target.stat().st_size > 1 << 20:
            os.remove(target)
