"""Paths, measuring one client process, and the numbers we report about it.

A client always runs as its own process, so its CPU (utime + stime) and peak RSS come from
``os.wait4`` on exactly that PID (its reaped children included), never from the runner.
Servers (Azurite, the sandbox) are measured from ``/proc/<pid>``: CPU delta over the run and
their high-water RSS.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
WORK = Path(os.environ.get("BENCH_WORK", BENCH / ".work"))
PYTHON = sys.executable
MiB = 1 << 20
GiB = 1 << 30
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def proc_hwm_kb(pid: int) -> int:
    """Peak resident set (VmHWM) of a live process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def proc_rss_kb(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_KB


@dataclass
class Profiling:
    output: Path | None = None
    server_output: Path | None = None
    """The sandbox (its own process) under py-spy too, for CLI cases."""
    client_cwd: Path | None = None
    """``--ab``: run clients from an older checkout (``-m`` puts the cwd first on sys.path)."""
    py_spy: str = str(Path(PYTHON).parent / "py-spy")


PROFILE = Profiling()


@dataclass
class ProcRun:
    """One client process, measured."""

    cmd: list[str]
    returncode: int
    wall: float
    cpu_user: float
    cpu_sys: float
    maxrss_kb: int
    stdout: str
    stderr: str
    outer_wall: float = 0.0
    t0_epoch: float = 0.0
    """Wall clock at fork, to place server-side events (submission times) on the run."""

    @property
    def cpu(self) -> float:
        return self.cpu_user + self.cpu_sys

    def json_tail(self) -> dict[str, Any]:
        """The last stdout line that is a JSON object (clients print their own figures)."""
        for line in reversed(self.stdout.strip().splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    value = json.loads(line)
                except ValueError:
                    continue
                if isinstance(value, dict):
                    return value
        return {}


def run_measured(
    cmd: Sequence[str],
    *,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path = REPO,
    timeout: float = 900.0,
) -> ProcRun:
    """Run ``cmd`` to completion through ``launch.py``: wall time from fork to reap, CPU and
    peak RSS from wait4 on the client alone (see launch.py for why not from here).

    With ``PROFILE.output`` set, a Python client runs under ``py-spy record`` instead (its
    figures then include the profiler's cost: profile runs are never the measured ones)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    if PROFILE.output is not None and cmd[0] == PYTHON:
        cmd = [PROFILE.py_spy, "record", "--format", "raw", "--rate", "250",
               "--nonblocking", "-o", str(PROFILE.output), "--", *cmd]  # fmt: skip
    out_path, err_path = log_dir / "stdout.txt", log_dir / "stderr.txt"
    full_env = dict(os.environ)
    full_env.update(env or {})
    figures_path = log_dir / "rusage.json"
    figures_path.unlink(missing_ok=True)
    launch = [PYTHON, "-I", "-S", str(BENCH / "launch.py"), str(figures_path), "--", *cmd]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        t0 = time.perf_counter()
        where = PROFILE.client_cwd or cwd
        proc = subprocess.Popen(launch, cwd=where, env=full_env, stdout=out, stderr=err)
        timer = threading.Timer(timeout, lambda: _kill(proc.pid))
        timer.start()
        try:
            proc.wait()
        finally:
            timer.cancel()
        outer_wall = time.perf_counter() - t0
    if not figures_path.exists():
        raise RuntimeError(f"launcher failed for {cmd[0]}: {err_path.read_text()[-2000:]}")
    fig = json.loads(figures_path.read_text())
    return ProcRun(
        cmd=list(cmd),
        returncode=int(fig["returncode"]),
        wall=float(fig["wall"]),
        cpu_user=float(fig["utime"]),
        cpu_sys=float(fig["stime"]),
        maxrss_kb=int(fig["maxrss_kb"]),
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        outer_wall=outer_wall,
        t0_epoch=float(fig.get("t0_epoch", 0.0)),
    )


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@dataclass
class Sample:
    """One measured run of one case."""

    wall: float
    client_cpu: float
    client_rss_mb: float
    files: int
    bytes: int
    server_cpu: dict[str, float] = field(default_factory=dict)
    server_rss_mb: dict[str, float] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Spread:
    median: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))

    def fmt(self, digits: int = 2) -> str:
        if len(set(round(v, digits) for v in (self.median, self.min, self.max))) == 1:
            return f"{self.median:.{digits}f}"
        return f"{self.median:.{digits}f} ({self.min:.{digits}f}–{self.max:.{digits}f})"


@dataclass
class CaseResult:
    scenario: str
    case: str
    tool: str
    target: str
    note: str
    samples: list[Sample] = field(default_factory=list)
    skipped: str | None = None

    def summary(self) -> dict[str, Any]:
        if not self.samples:
            return {}
        s = self.samples
        files, nbytes = s[0].files, s[0].bytes
        walls = [x.wall for x in s]
        cpus = [x.client_cpu for x in s]
        out: dict[str, Any] = {
            "runs": len(s),
            "files": files,
            "bytes": nbytes,
            "wall_s": asdict(Spread.of(walls)),
            "files_per_s": asdict(Spread.of([files / w for w in walls])),
            "mib_per_s": asdict(Spread.of([nbytes / MiB / w for w in walls])),
            "client_cpu_s": asdict(Spread.of(cpus)),
            "cpu_s_per_gib": asdict(Spread.of([c / (nbytes / GiB) for c in cpus]))
            if nbytes
            else None,
            "cpu_s_per_1000_files": asdict(Spread.of([c / files * 1000 for c in cpus]))
            if files
            else None,
            "client_peak_rss_mb": asdict(Spread.of([x.client_rss_mb for x in s])),
        }
        for name in sorted({k for x in s for k in x.server_cpu}):
            out[f"{name}_cpu_s"] = asdict(Spread.of([x.server_cpu.get(name, 0.0) for x in s]))
        for name in sorted({k for x in s for k in x.server_rss_mb}):
            out[f"{name}_peak_rss_mb"] = asdict(
                Spread.of([x.server_rss_mb.get(name, 0.0) for x in s])
            )
        if s[0].requests and files:
            out["requests_per_asset"] = {
                k: round(v / files, 3) for k, v in sorted(s[0].requests.items())
            }
        extras = [x.extra for x in s if x.extra]
        if extras:
            out["extra"] = _merge_extra(extras)
        return out


def _merge_extra(extras: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key in extras[0]:
        values = [e[key] for e in extras if key in e]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            merged[key] = asdict(Spread.of([float(v) for v in values]))
        else:
            merged[key] = values[-1]
    return merged


def machine_info() -> dict[str, Any]:
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "nproc": os.cpu_count(),
        "mem_gib": round(mem_kb / (1 << 20), 1),
        "cpu": model,
        "kernel": os.uname().release,
        "python": sys.version.split()[0],
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }
