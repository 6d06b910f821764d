"""``batcher ray``: one Ray task per shard, the shared gates actor, and the merged report.

Each task is ``run_batch`` over one shard, with its report and journal in the state folder
(``shard-K-of-N.report.jsonl`` and its journal beside it), which every node must reach. A
worker that dies is run again by Ray (``max_retries``) and the new attempt resumes from the
shard's journal, as a re-run of the normal command would. The API key never travels with a
task (Ray keeps task arguments in its object store): each worker reads it itself, from
``--api-key-file`` (a path every node can read) or from ``MEDIAMAGIC_API_KEY``.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import ray
from pydantic import SecretStr
from ray.exceptions import RayError

from batcher.clock import RealClock
from batcher.config import Settings
from batcher.context import RunCounters
from batcher.errors import FatalApiError, UsageError
from batcher.pipeline import journal_path_for, run_batch
from batcher.redact import redact
from batcher.scale.gates import SharedGates
from batcher.scale.merge import merge
from batcher.scale.ray_actor import RayGateService, start_gate_actor
from batcher.scale.shard import Shard
from batcher.summary import RunSummary


def shard_report(state: Path, shard: Shard) -> Path:
    return state / f"shard-{shard.index}-of-{shard.count}.report.jsonl"


def shard_pid_file(state: Path, shard: Shard) -> Path:
    """Which process runs the shard now (for operators, and for the test that kills it)."""
    return state / f"shard-{shard.index}-of-{shard.count}.pid"


def journal_completed(journal: Path) -> bool:
    if not journal.exists():
        return False
    try:
        db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'completed'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return False
    return bool(row and row[0] == "1")


@dataclass(frozen=True)
class ShardTask:
    manifest: Path
    settings: Settings
    """Without the API key (see the module docstring)."""
    key_file: Path | None
    shard: Shard
    state: Path
    gates: Any
    """The gate actor's handle, or None: each shard on its own gates at 1/N."""


@dataclass
class ShardResult:
    shard: str
    counters: dict[str, int]
    throttled: dict[str, int]
    fell_back: bool
    already_done: bool = False


def _api_key(key_file: Path | None) -> SecretStr:
    if key_file is not None:
        try:
            text = key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"cannot read --api-key-file on this node: {exc.strerror}") from None
        if text:
            return SecretStr(text)
    key = os.environ.get("MEDIAMAGIC_API_KEY", "").strip()
    if not key:
        raise UsageError("no API key on this node: MEDIAMAGIC_API_KEY or --api-key-file")
    return SecretStr(key)


def run_shard(task: ShardTask) -> ShardResult:
    """The body of one Ray task (runs in a worker process)."""
    report = shard_report(task.state, task.shard)
    shard_pid_file(task.state, task.shard).write_text(f"{os.getpid()}\n")
    if journal_completed(journal_path_for(report)) and report.exists():
        # This attempt is a retry of one whose run had ended (its worker died after): the
        # journal would start a new sweep and send every file again.
        return ShardResult(str(task.shard), {}, {}, fell_back=False, already_done=True)
    settings = task.settings.model_copy(
        update={
            "api_key": _api_key(task.key_file),
            "report_path": report,
            "journal_path": None,
            "shard": task.shard,
            "fresh": False,
        }
    )
    service = None if task.gates is None else RayGateService(task.gates)
    gates = SharedGates(service, RealClock(), task.shard.count)
    summary = anyio.run(_run, task.manifest, settings, gates)
    return ShardResult(
        str(task.shard),
        dataclasses.asdict(summary.counters),
        dict(summary.throttled),
        fell_back=gates.fell_back,
    )


async def _run(manifest: Path, settings: Settings, gates: SharedGates) -> Any:
    return await run_batch(manifest, settings, gates=gates)


def prepare_state(state: Path, shards: int, *, fresh: bool) -> None:
    """Start the next sweep where the last one ended: a shard whose journal completed starts
    over; an unfinished one resumes (as the normal command does with one report)."""
    state.mkdir(parents=True, exist_ok=True)
    for k in range(shards):
        report = shard_report(state, Shard(index=k, count=shards))
        journal = journal_path_for(report)
        if fresh or journal_completed(journal):
            for path in (report, journal, Path(f"{journal}-wal"), Path(f"{journal}-shm")):
                path.unlink(missing_ok=True)


def sum_counters(results: list[ShardResult]) -> tuple[RunCounters, dict[str, int]]:
    counters = RunCounters()
    throttled: dict[str, int] = {}
    for result in results:
        for name, value in result.counters.items():
            setattr(counters, name, getattr(counters, name) + value)
        for bucket, n in result.throttled.items():
            throttled[bucket] = throttled.get(bucket, 0) + n
    return counters, throttled


class ShardFailed(UsageError):
    code = "shard_failed"


def _collect(refs: dict[str, Any]) -> tuple[list[ShardResult], dict[str, BaseException]]:
    """Wait for every shard; a failed one does not stop the others."""
    results: list[ShardResult] = []
    failures: dict[str, BaseException] = {}
    for name, ref in refs.items():
        try:
            results.append(ray.get(ref))
        except RayError as exc:
            # A task's own exception arrives wrapped; its cause is what the shard raised.
            failures[name] = getattr(exc, "cause", None) or exc
    return results, failures


@dataclass
class RayRun:
    manifest: Path
    settings: Settings
    """The run's settings without the API key; ``report_path`` is the merged report."""
    key_file: Path | None
    shards: int
    state: Path
    address: str | None = None
    task_retries: int = 3
    shared_gates: bool = True

    async def run(self) -> RunSummary:
        if self.settings.api_key is not None:
            raise ValueError("the API key must not travel with the tasks")
        report = self.settings.report_path
        assert report is not None
        prepare_state(self.state, self.shards, fresh=self.settings.fresh)
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=True)
        clock = RealClock()
        begun = clock.now()
        try:
            gates = start_gate_actor() if self.shared_gates else None
            fn = ray.remote(run_shard).options(
                # A shard mostly waits on the network: half a CPU lets a 2-core node run
                # four; SPREAD puts them on different nodes where there are several.
                num_cpus=0.5,
                max_retries=self.task_retries,
                scheduling_strategy="SPREAD",
            )
            refs = {}
            for k in range(self.shards):
                shard = Shard(index=k, count=self.shards)
                task = ShardTask(
                    self.manifest, self.settings, self.key_file, shard, self.state, gates
                )
                refs[str(shard)] = fn.remote(task)
            results, failures = await anyio.to_thread.run_sync(_collect, refs)
        finally:
            if started_here:
                ray.shutdown()
        wall = clock.now() - begun
        if failures:
            fatal = next((e for e in failures.values() if isinstance(e, FatalApiError)), None)
            if fatal is not None:
                raise fatal
            detail = "; ".join(f"shard {n}: {redact(str(e))}" for n, e in failures.items())
            raise ShardFailed(
                f"{len(failures)} of {self.shards} shards did not finish ({detail}); "
                f"their progress is in {self.state}: run the same command again to resume"
            )
        reports = [
            shard_report(self.state, Shard(index=k, count=self.shards)) for k in range(self.shards)
        ]
        merged = merge(reports, report, self.manifest)
        counters, throttled = sum_counters(results)
        return RunSummary(merged, counters, throttled, wall)
