"""Command line: dispatch, run, and errors → "Error: …" + exit code (DESIGN.md §3).

Options and settings live in ``cli_options``; subcommands in ``batcher.commands``.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from pydantic import SecretStr, ValidationError
from rich.console import Console

from batcher.cli.dryrun import dry_run
from batcher.cli.options import build_parser, settings_from
from batcher.cli.retry_cmd import merge_reports, recorded_manifest, rows_to_retry
from batcher.config import PollSettings
from batcher.errors import FatalApiError, Interrupted, ServiceUnreachable, UsageError
from batcher.logs import attach_log_file, detach
from batcher.pipeline import journal_path_for, run_batch
from batcher.progress.model import ProgressView
from batcher.progress.views import PlainView, QuietView, RichView
from batcher.redact import redact
from batcher.summary import (
    EXIT_FATAL_API,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    RunSummary,
)


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


async def _main(args: argparse.Namespace, only_rows: frozenset[int] | None) -> RunSummary:
    async with _maybe_sandbox(args) as override:
        if args.sandbox and args.poll_interval is None:
            override["poll"] = PollSettings(initial=0.5, max_interval=5.0)
        settings = settings_from(args, **override)
        if settings.api_key is None:
            raise UsageError(
                "no API key: set MEDIAMAGIC_API_KEY (or use --api-key-file PATH), "
                "or run against the built-in sandbox with --sandbox"
            )
        return await run_batch(
            args.manifest, settings, handle_signals=True, view=_view(args), only_rows=only_rows
        )


SUBCOMMANDS = ("report", "manifest", "retry")


def _dry_run(args: argparse.Namespace) -> int:
    plan = dry_run(args.manifest, settings_from(args), assumed_mbps=float(args.assume_mbps))
    print(plan.render())
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(plan.as_dict(), indent=2) + "\n")
    return EXIT_OK if not plan.refused else EXIT_SOME_FAILED


def _retry_args(argv: list[str]) -> tuple[argparse.Namespace, Path, frozenset[int]]:
    """``batcher retry REPORT [--manifest M] [run options]`` → the main command's arguments,
    writing to a side report that is merged into REPORT afterwards."""
    pre = argparse.ArgumentParser(prog="batcher retry", add_help=False)
    pre.add_argument("report", type=Path)
    pre.add_argument("--manifest", type=Path)
    pre.add_argument("--journal", type=Path)
    known, rest = pre.parse_known_args(argv)
    report: Path = known.report
    journal = known.journal or journal_path_for(report)
    manifest = known.manifest or recorded_manifest(journal)
    if manifest is None:
        raise UsageError(
            f"cannot tell which manifest {report} came from (no journal at {journal}); "
            "give it with --manifest"
        )
    rows = rows_to_retry(report)
    side = report.with_name(report.name + ".retry.jsonl")
    args = build_parser().parse_args([str(manifest), *rest])
    args.report = side
    args.journal = side.with_name(side.name + ".journal.sqlite")
    return args, report, rows


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `batcher report X` / `batcher manifest DIR`; a manifest file literally named like a
    # subcommand still runs as a manifest.
    command = argv[0] if argv and argv[0] in SUBCOMMANDS and not Path(argv[0]).is_file() else None
    if command in ("report", "manifest"):
        if command == "report":
            from batcher.cli import report_cmd

            return report_cmd.main(argv[1:])
        from batcher.cli import manifest_cmd

        return manifest_cmd.main(argv[1:])
    retry: tuple[Path, frozenset[int]] | None = None
    handler = None
    try:
        if command == "retry":
            args, report, rows = _retry_args(argv[1:])
            retry = (report, rows)
            if not rows:
                print(f"nothing to retry: no failed or error rows in {report}", file=sys.stderr)
                return EXIT_OK
        else:
            args = build_parser().parse_args(argv)
        if args.dry_run:
            return _dry_run(args)
        if args.log_file:
            try:
                handler = attach_log_file(Path(args.log_file), verbose=args.verbose)
            except OSError as exc:
                raise UsageError(f"cannot write --log-file: {exc.strerror}") from None
        summary = anyio.run(_main, args, retry[1] if retry else None)
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
    except ServiceUnreachable as exc:
        print(f"Stopped: {redact(exc.message)}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except (Interrupted, KeyboardInterrupt) as exc:
        reason = exc.message if isinstance(exc, Interrupted) else "interrupted"
        print(f"Stopped: {reason}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        # A bug. The traceback helps; redacted, because aiohttp puts URLs (SAS) in messages.
        text = "".join(traceback.format_exception(exc))
        print(f"{redact(text)}Error: internal error (a bug; please report it)", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        if handler is not None:
            detach(handler)
    if retry is not None:
        merge_reports(retry[0], args.report)
        args.report.unlink()
        print(f"merged {summary.rows} retried rows into {retry[0]}", file=sys.stderr)
    print(summary.render(), file=sys.stderr)
    if args.summary_json:
        try:
            Path(args.summary_json).write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
        except OSError as exc:
            print(f"Error: cannot write --summary-json: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
    return summary.exit_code
