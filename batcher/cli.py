"""Command line: argv + environment → Settings → run_batch → exit code (DESIGN.md §3).

Every option can also be set by an environment variable ``BATCHER_<OPTION>`` (dashes become
underscores); the command line wins. The API key is never an option value (it would show in
process listings): ``MEDIAMAGIC_API_KEY`` or ``--api-key-file``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from pydantic import SecretStr, ValidationError
from rich.console import Console

from batcher.config import DEFAULT_BASE_URL, MiB, PollSettings, Settings
from batcher.errors import FatalApiError, UsageError
from batcher.logs import attach_log_file, detach
from batcher.pipeline import run_batch
from batcher.progress import ProgressView
from batcher.progress_views import PlainView, QuietView, RichView
from batcher.redact import redact
from batcher.shutdown import Interrupted
from batcher.summary import EXIT_FATAL_API, EXIT_INTERRUPTED, EXIT_USAGE, RunSummary

ENV_PREFIX = "BATCHER_"


def _env_default(name: str, fallback: Any) -> Any:
    return os.environ.get(ENV_PREFIX + name.upper().replace("-", "_"), fallback)


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
        p.add_argument(
            flag, help=f"{help_text} [env {ENV_PREFIX}{name.upper().replace('-', '_')}]", **kw
        )

    p.add_argument("manifest", type=Path, help="CSV (header with a 'path' column) or JSON Lines")
    p.add_argument(
        "--sandbox",
        action="store_true",
        default=_env_default("sandbox", "") in ("1", "true", "yes"),
        help="start the built-in MediaMagic sandbox on loopback and run against it "
        "(no API key needed) [env BATCHER_SANDBOX=1]",
    )
    opt("--report", "report path (default: <manifest stem>.report.jsonl here)", type=Path)
    opt("--api-key-file", "read the API key from this file (else MEDIAMAGIC_API_KEY)", type=Path)
    opt("--base-url", "API base URL (else MEDIAMAGIC_BASE_URL, else the preview service)")
    opt("--upload-workers", "files uploaded at once", type=int, fallback=8)
    opt("--block-size", "block size in MiB for presigned uploads", type=int, fallback=8)
    opt("--block-concurrency", "blocks of one file in flight at once", type=int, fallback=4)
    opt("--memory-budget", "MiB of file data buffered in flight, whole run", type=int, fallback=256)
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
        "--rerun",
        "blob naming on re-runs: fresh (review again) or skip (already submitted "
        "files are reported, not resent)",
        choices=["fresh", "skip"],
        fallback="fresh",
    )
    opt("--journal", "resume journal (default: <report>.journal.sqlite)", type=Path)
    p.add_argument(
        "--fresh",
        action="store_true",
        default=_env_default("fresh", "") in ("1", "true", "yes"),
        help="ignore an unfinished earlier run's journal and start afresh [env BATCHER_FRESH=1]",
    )
    opt(
        "--shutdown-grace",
        "after Ctrl-C/SIGTERM, seconds in-flight requests may take",
        type=float,
        fallback=10.0,
    )
    quiet = p.add_mutually_exclusive_group()
    quiet.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=_env_default("quiet", "") in ("1", "true", "yes"),
        help="no progress and no per-row lines; only errors and the end summary "
        "[env BATCHER_QUIET=1]",
    )
    quiet.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=_env_default("verbose", "") in ("1", "true", "yes"),
        help="also a line per completed row; debug events in --log-file [env BATCHER_VERBOSE=1]",
    )
    opt(
        "--status-interval",
        "seconds between status lines when stderr is not a terminal",
        type=float,
        fallback=10.0,
    )
    opt("--summary-json", "also write the end summary as one JSON object to this file", type=Path)
    opt("--log-file", "write events as JSON lines to this file (secrets redacted)", type=Path)
    opt("--simulation-delay", "sandbox keys only: simulationDelaySeconds (0-30)", type=int)
    return p


def _api_key(args: argparse.Namespace) -> SecretStr | None:
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
        api_key=_api_key(args),
        report_path=Path(args.report) if args.report else None,
        upload_workers=int(args.upload_workers),
        block_size=int(args.block_size) * MiB,
        block_concurrency=int(args.block_concurrency),
        memory_budget=int(args.memory_budget) * MiB,
        direct_max_bytes=int(args.direct_max_bytes),
        batch_size=int(args.batch_size),
        batch_linger=float(args.batch_linger),
        request_timeout=float(args.request_timeout),
        retry_attempts=int(args.retries),
        rerun=args.rerun,
        journal_path=Path(args.journal) if args.journal else None,
        fresh=bool(args.fresh),
        shutdown_grace=float(args.shutdown_grace),
        simulation_delay=None if args.simulation_delay is None else int(args.simulation_delay),
        poll=poll,
    )
    values.update(override)
    return Settings(**values)


@asynccontextmanager
async def _maybe_sandbox(args: argparse.Namespace) -> AsyncIterator[dict[str, Any]]:
    if not args.sandbox:
        yield {}
        return
    # Imported only here: client code never depends on the sandbox.
    from batcher.sandbox import DEFAULT_TEST_KEY, SandboxConfig, running_sandbox

    async with running_sandbox(SandboxConfig(processing_delay=1.0)) as sb:
        print(f"sandbox: MediaMagic emulator at {sb.base_url}", file=sys.stderr)
        override: dict[str, Any] = {"base_url": sb.base_url, "api_key": SecretStr(DEFAULT_TEST_KEY)}
        yield override


def _view(args: argparse.Namespace) -> ProgressView:
    # stderr only: stdout stays clean for machine use.
    if args.quiet:
        return QuietView()
    if sys.stderr.isatty():
        return RichView(Console(stderr=True), verbose=args.verbose)
    return PlainView(sys.stderr, interval=float(args.status_interval), verbose=args.verbose)


async def _main(args: argparse.Namespace) -> RunSummary:
    async with _maybe_sandbox(args) as override:
        if args.sandbox and args.poll_interval is None:
            override["poll"] = PollSettings(initial=0.5, max_interval=5.0)
        settings = settings_from(args, **override)
        if settings.api_key is None:
            raise UsageError(
                "no API key: set MEDIAMAGIC_API_KEY (or use --api-key-file PATH), "
                "or run against the built-in sandbox with --sandbox"
            )
        return await run_batch(args.manifest, settings, handle_signals=True, view=_view(args))


SUBCOMMANDS = ("report", "manifest")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `batcher report X` / `batcher manifest DIR`; a manifest file literally named like a
    # subcommand still runs as a manifest.
    if argv and argv[0] in SUBCOMMANDS and not Path(argv[0]).is_file():
        if argv[0] == "report":
            from batcher.commands import report_cmd

            return report_cmd.main(argv[1:])
        from batcher.commands import manifest_cmd

        return manifest_cmd.main(argv[1:])
    args = build_parser().parse_args(argv)
    handler = None
    try:
        if args.log_file:
            try:
                handler = attach_log_file(Path(args.log_file), verbose=args.verbose)
            except OSError as exc:
                raise UsageError(f"cannot write --log-file: {exc.strerror}") from None
        summary = anyio.run(_main, args)
    except UsageError as exc:
        print(f"Error: {redact(exc.message)}", file=sys.stderr)
        return EXIT_USAGE
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"Error: invalid settings: {redact(problems)}", file=sys.stderr)
        return EXIT_USAGE
    except FatalApiError as exc:
        print(
            f"Error: {redact(exc.message)} (HTTP {exc.http_status}); run aborted", file=sys.stderr
        )
        return EXIT_FATAL_API
    except (Interrupted, KeyboardInterrupt) as exc:
        reason = exc.message if isinstance(exc, Interrupted) else "interrupted"
        print(f"Stopped: {reason}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if handler is not None:
            detach(handler)
    print(summary.render(), file=sys.stderr)
    if args.summary_json:
        try:
            Path(args.summary_json).write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
        except OSError as exc:
            print(f"Error: cannot write --summary-json: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
    return summary.exit_code
