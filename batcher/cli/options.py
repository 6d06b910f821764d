"""The main command's options: argv + environment → Settings.

Every option can also be set by an environment variable ``BATCHER_<OPTION>`` (dashes become
underscores); the command line wins. The API key is never an option value (it would show in
process listings): ``MEDIAMAGIC_API_KEY`` or ``--api-key-file``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from batcher.blob.bandwidth import mb_per_second
from batcher.config import DEFAULT_BASE_URL, MiB, PollSettings, Settings
from batcher.errors import UsageError

ENV_PREFIX = "BATCHER_"


def _env_name(name: str) -> str:
    return ENV_PREFIX + name.upper().replace("-", "_")


def _env_default(name: str, fallback: Any) -> Any:
    return os.environ.get(_env_name(name), fallback)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="batcher",
        description="Upload media to MediaMagic, submit it for compliance review, track every "
        "submission and write one JSON line per manifest row. Every option can also be set "
        "as BATCHER_<OPTION> in the environment.",
        epilog="Other commands: `batcher report REPORT.jsonl [--html OUT]` summarises a report; "
        "`batcher manifest DIR -o manifest.csv` writes a manifest for a folder tree.",
    )

    def opt(flag: str, help_text: str, **kw: Any) -> None:
        name = flag.lstrip("-")
        kw.setdefault("default", _env_default(name, kw.pop("fallback", None)))
        p.add_argument(flag, help=f"{help_text} [env {_env_name(name)}]", **kw)

    def switch(flag: str, help_text: str, *, short: str | None = None, into: Any = None) -> None:
        """An on/off flag; its variable is on when set to 1, true or yes."""
        name = flag.lstrip("-")
        on = str(_env_default(name, "")).lower() in ("1", "true", "yes")
        flags = [short, flag] if short else [flag]
        (into or p).add_argument(
            *flags, action="store_true", default=on, help=f"{help_text} [env {_env_name(name)}=1]"
        )

    p.add_argument("manifest", type=Path, help="CSV (header with a 'path' column) or JSON Lines")
    switch(
        "--sandbox",
        "start the built-in MediaMagic sandbox on loopback and run against it (no API key needed)",
    )
    opt("--report", "report path (default: <manifest stem>.report.jsonl here)", type=Path)
    opt("--api-key-file", "read the API key from this file (else MEDIAMAGIC_API_KEY)", type=Path)
    opt("--base-url", "API base URL (else MEDIAMAGIC_BASE_URL, else the preview service)")
    opt("--upload-workers", "files uploaded at once", type=int, fallback=8)
    opt("--block-size", "block size in MiB for presigned uploads", type=int, fallback=8)
    opt("--block-concurrency", "blocks of one file in flight at once", type=int, fallback=4)
    opt("--memory-budget", "MiB of file data buffered in flight, whole run", type=int, fallback=256)
    switch(
        "--fixed-concurrency",
        "always keep --block-concurrency blocks per file in flight (default: as many across "
        "files as the link's measured throughput rewards, up to that)",
    )
    opt(
        "--bwlimit",
        "cap on upload bandwidth in MB/s (decimal; 0: none), e.g. for night runs on an office link",
        type=float,
        fallback=0.0,
    )
    opt("--direct-max-bytes", "largest file sent by direct upload", type=int, fallback=10_000_000)
    opt("--batch-size", "assets per submission", type=int, fallback=50)
    opt("--batch-linger", "seconds a partial batch waits for more rows", type=float, fallback=2.0)
    opt("--poll-workers", "submissions polled at once", type=int, fallback=4)
    opt(
        "--poll-interval",
        "first poll wait in seconds, grows for long jobs",
        type=float,
        fallback=None,
    )
    opt("--poll-max-interval", "longest wait between polls", type=float, fallback=60.0)
    opt(
        "--poll-deadline",
        "give up on a submission after this many seconds",
        type=float,
        fallback=3600.0,
    )
    opt("--asset-retries", "E9 retries of a failed retryable asset", type=int, fallback=2)
    opt("--request-timeout", "seconds per API request", type=float, fallback=60.0)
    opt("--retries", "attempts per request for retryable errors", type=int, fallback=6)
    opt(
        "--max-outage",
        "seconds a host may stay unreachable (senders wait, probes go out) before the run "
        "stops, resumable by the same command",
        type=float,
        fallback=900.0,
    )
    opt(
        "--rerun",
        "blob naming on re-runs: fresh (review again) or skip (already submitted "
        "files are reported, not resent)",
        choices=["fresh", "skip"],
        fallback="fresh",
    )
    opt("--journal", "resume journal (default: <report>.journal.sqlite)", type=Path)
    switch("--fresh", "ignore an unfinished earlier run's journal and start afresh")
    opt(
        "--shutdown-grace",
        "after Ctrl-C/SIGTERM, seconds in-flight requests may take",
        type=float,
        fallback=10.0,
    )
    quiet = p.add_mutually_exclusive_group()
    switch(
        "--quiet",
        "no progress and no per-row lines; only errors and the end summary",
        short="-q",
        into=quiet,
    )
    switch(
        "--verbose",
        "also a line per completed row; debug events in --log-file",
        short="-v",
        into=quiet,
    )
    opt(
        "--status-interval",
        "seconds between status lines when stderr is not a terminal",
        type=float,
        fallback=10.0,
    )
    opt("--summary-json", "also write the end summary as one JSON object to this file", type=Path)
    opt("--log-file", "write events as JSON lines to this file (secrets redacted)", type=Path)
    switch("--dry-run", "check the whole manifest with no network and print what a run would do")
    opt(
        "--assume-mbps",
        "with --dry-run: bandwidth (MB/s) for the time estimate",
        type=float,
        fallback=50.0,
    )
    opt("--simulation-delay", "sandbox keys only: simulationDelaySeconds (0-30)", type=int)
    return p


def api_key_from(args: argparse.Namespace) -> SecretStr | None:
    if args.api_key_file:
        try:
            text = Path(args.api_key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"cannot read --api-key-file: {exc.strerror}") from None
        if not text:
            raise UsageError("--api-key-file is empty")
        return SecretStr(text)
    key = os.environ.get("MEDIAMAGIC_API_KEY", "").strip()
    return SecretStr(key) if key else None


def _bwlimit(value: object) -> float | None:
    try:
        return mb_per_second(None if value is None else float(str(value)))
    except ValueError:
        raise UsageError(f"--bwlimit must be a number of MB/s >= 0, not {value!r}") from None


def settings_from(args: argparse.Namespace, **override: Any) -> Settings:
    poll = PollSettings(
        workers=int(args.poll_workers),
        initial=float(args.poll_interval) if args.poll_interval is not None else 5.0,
        max_interval=float(args.poll_max_interval),
        deadline=float(args.poll_deadline),
        asset_retries=int(args.asset_retries),
    )
    values: dict[str, Any] = dict(
        base_url=args.base_url or os.environ.get("MEDIAMAGIC_BASE_URL") or DEFAULT_BASE_URL,
        api_key=api_key_from(args),
        report_path=Path(args.report) if args.report else None,
        upload_workers=int(args.upload_workers),
        block_size=int(args.block_size) * MiB,
        block_concurrency=int(args.block_concurrency),
        memory_budget=int(args.memory_budget) * MiB,
        adaptive_concurrency=not bool(args.fixed_concurrency),
        bwlimit=_bwlimit(args.bwlimit),
        direct_max_bytes=int(args.direct_max_bytes),
        batch_size=int(args.batch_size),
        batch_linger=float(args.batch_linger),
        request_timeout=float(args.request_timeout),
        retry_attempts=int(args.retries),
        max_outage=float(args.max_outage),
        rerun=args.rerun,
        journal_path=Path(args.journal) if args.journal else None,
        fresh=bool(args.fresh),
        shutdown_grace=float(args.shutdown_grace),
        simulation_delay=None if args.simulation_delay is None else int(args.simulation_delay),
        poll=poll,
    )
    values.update(override)
    return Settings(**values)
