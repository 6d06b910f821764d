"""Command line: dispatch, run, and errors → "Error: …" + exit code (README, Exit codes).

Options and settings live in ``options`` and ``layers``; subcommands in their own modules.
Everything for the user goes to stderr through a ``SafeStream``: a closed pipe there (``|
head``) never stops a run; the report is the record.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import anyio
from pydantic import SecretStr, ValidationError
from rich.console import Console

from batcher.cli.dryrun import dry_run
from batcher.cli.layers import parse_main
from batcher.cli.options import build_parser
from batcher.cli.outputs import check_outputs
from batcher.cli.retry_cmd import HELP as RETRY_HELP
from batcher.cli.retry_run import Retry, finish_retry, retry_args
from batcher.cli.settings import api_key_from, log_level, settings_from
from batcher.config import PollSettings
from batcher.errors import (
    DiskFullError,
    FatalApiError,
    Interrupted,
    ServiceUnreachable,
    UsageError,
)
from batcher.localio import local_write
from batcher.logs import NOTICE, attach_log_file, detach
from batcher.pipeline import default_report_path, journal_path_for, run_batch
from batcher.progress.model import ProgressView
from batcher.progress.streams import safe
from batcher.progress.views import JsonView, PlainView, QuietView, RichView, TeeView
from batcher.redact import Redactor
from batcher.summary import (
    EXIT_DISK_FULL,
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
async def _maybe_sandbox(args: argparse.Namespace, err: TextIO) -> AsyncIterator[dict[str, Any]]:
    if not args.sandbox:
        yield {}
        return
    # Imported only here: client code never depends on the sandbox.
    from batcher.sandbox import DEFAULT_TEST_KEY, SandboxConfig, running_sandbox

    # Its state lives next to the report, so a run that is killed and re-run (or the next
    # night's, linking versions) meets the sandbox that holds its submissions.
    report = Path(args.report) if args.report else default_report_path(args.manifest)
    state = report.with_name(report.name + ".sandbox")
    async with running_sandbox(SandboxConfig(processing_delay=1.0, state_dir=state)) as sb:
        err.write(f"sandbox: MediaMagic emulator at {sb.base_url} (state in {state})\n")
        override: dict[str, Any] = {"base_url": sb.base_url, "api_key": SecretStr(DEFAULT_TEST_KEY)}
        yield override


def _view(args: argparse.Namespace, err: TextIO, stats: TextIO | None) -> ProgressView:
    """stderr only: stdout stays clean for machine use."""
    level = log_level(args)
    interval = float(args.status_interval)
    if args.stats_json == "-":
        return JsonView(err, interval=interval)
    human: ProgressView
    if level >= 40:  # ERROR, -q
        human = QuietView(err)
    elif err.isatty():
        human = RichView(Console(file=err), verbose=level <= 10, rows=level < NOTICE)
    else:
        human = PlainView(err, interval=interval, verbose=level <= 10, rows=level < NOTICE)
    if stats is None:
        return human
    return TeeView([human, JsonView(stats, interval=interval)])


def _abandon(views: list[ProgressView]) -> None:
    """Stop any live terminal display (idempotent: a closed one is already stopped)."""
    for view in views:
        inner = view.views if isinstance(view, TeeView) else [view]
        for each in inner:
            if isinstance(each, RichView):
                each.abandon()


async def _main(
    args: argparse.Namespace,
    only_rows: frozenset[int] | None,
    make_view: Callable[[], ProgressView],
    err: TextIO,
) -> RunSummary:
    async with _maybe_sandbox(args, err) as override:
        if args.sandbox and args.poll_interval is None:
            override["poll"] = PollSettings(initial=0.5, max_interval=5.0)
        settings = settings_from(args, **override)
        if settings.api_key is None:
            raise UsageError(
                "no API key: set MEDIAMAGIC_API_KEY (or use --api-key-file PATH), "
                "or run against the built-in sandbox with --sandbox"
            )
        return await run_batch(
            # Made last: a terminal display started before a usage error would be left running.
            args.manifest,
            settings,
            handle_signals=True,
            view=make_view(),
            only_rows=only_rows,
        )


SUBCOMMANDS = ("report", "manifest", "retry", "merge", "ray", "help")
_DISK_FULL_HINT = "the run stopped; what it did is kept: re-run on a disk with room to finish"


def _dry_run(args: argparse.Namespace) -> int:
    check_outputs(args, report=None)
    settings = settings_from(args)
    report = settings.report_path or default_report_path(args.manifest)
    journal = settings.journal_path or journal_path_for(report)
    plan = dry_run(args.manifest, settings, assumed_mbps=float(args.assume_mbps), journal=journal)
    print(plan.render())
    if args.summary_json:
        try:
            with local_write(args.summary_json, "summary"):
                Path(args.summary_json).write_text(json.dumps(plan.as_dict(), indent=2) + "\n")
        except OSError as exc:  # (a full disk is a DiskFullError: exit 74)
            raise UsageError(f"cannot write --summary-json: {exc.strerror}") from None
    return EXIT_OK if not plan.refused else EXIT_SOME_FAILED


def _help(argv: list[str]) -> int:
    """``batcher help [COMMAND]``."""
    topic = argv[0] if argv else None
    if topic == "retry":
        sys.stdout.write(RETRY_HELP)
    elif topic == "report":
        from batcher.cli import report_cmd

        report_cmd.build_parser().print_help()
    elif topic == "manifest":
        from batcher.cli import manifest_cmd

        manifest_cmd.build_parser().print_help()
    elif topic == "merge":
        from batcher.cli import merge_cmd

        return merge_cmd.main(["--help"])
    elif topic == "ray":
        from batcher.cli import ray_cmd

        return ray_cmd.main(["--help"])
    elif topic in (None, "run"):
        build_parser().print_help()
    else:
        sys.stderr.write(
            f"Error: no command {topic!r}; the commands are {', '.join(SUBCOMMANDS)}\n"
        )
        return EXIT_USAGE
    return EXIT_OK


def _dispatch(argv: list[str]) -> int | None:
    """The subcommands that are not a run; None: a run."""
    # A manifest file literally named like a subcommand still runs as a manifest.
    command = argv[0] if argv and argv[0] in SUBCOMMANDS and not Path(argv[0]).is_file() else None
    if command == "report":
        from batcher.cli import report_cmd

        return report_cmd.main(argv[1:])
    if command == "manifest":
        from batcher.cli import manifest_cmd

        return manifest_cmd.main(argv[1:])
    if command == "merge":
        from batcher.cli import merge_cmd

        return merge_cmd.main(argv[1:])
    if command == "ray":
        from batcher.cli import ray_cmd  # imports Ray only when asked for

        return ray_cmd.main(argv[1:])
    if command == "help":
        return _help(argv[1:])
    if command == "retry" and {"-h", "--help"} & set(argv[1:]):
        sys.stdout.write(RETRY_HELP)
        return EXIT_OK
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    done = _dispatch(argv)
    if done is not None:
        return done
    err = safe(sys.stderr)
    retry: Retry | None = None
    redact = Redactor()  # the shapes only, until the key is known
    with ExitStack() as stack:
        try:
            if argv and argv[0] == "retry" and not Path("retry").is_file():
                args, retry = retry_args(argv[1:])
                if retry.note:
                    err.write(retry.note + "\n")
                if not retry.rows:
                    err.write(f"nothing to retry in {retry.report}\n")
                    return EXIT_OK
            else:
                args = parse_main(argv)
            if args.dry_run:
                return _dry_run(args)
            redact = Redactor.of(api_key_from(args))
            report = args.report or default_report_path(args.manifest)
            check_outputs(args, report=Path(report))
            if args.log_file:
                handler = attach_log_file(
                    Path(args.log_file), level=log_level(args), redactor=redact
                )
                stack.callback(detach, handler)
            stats = None
            if args.stats_json and args.stats_json != "-":
                stats = stack.enter_context(
                    safe(open(args.stats_json, "w", encoding="utf-8"), owns=True)  # noqa: SIM115
                )
            views: list[ProgressView] = []

            def make_view() -> ProgressView:
                views.append(_view(args, err, stats))
                return views[-1]

            # If the run fails before the pipeline closes its view, stop a live display.
            stack.callback(_abandon, views)
            summary = anyio.run(_main, args, retry.rows if retry else None, make_view, err)
        except DiskFullError as exc:
            err.write(f"Error: {redact(exc.message)}; {_DISK_FULL_HINT}\n")
            return EXIT_DISK_FULL
        except UsageError as exc:
            err.write(f"Error: {redact(exc.message)}\n")
            return EXIT_USAGE
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            err.write(f"Error: invalid settings: {redact(problems)}\n")
            return EXIT_USAGE
        except FatalApiError as exc:
            err.write(f"Error: {redact(exc.message)} (HTTP {exc.http_status}); run aborted\n")
            return EXIT_FATAL_API
        except ServiceUnreachable as exc:
            err.write(f"Stopped: {redact(exc.message)}\n")
            return EXIT_UNREACHABLE
        except (Interrupted, KeyboardInterrupt) as exc:
            reason = exc.message if isinstance(exc, Interrupted) else "interrupted"
            err.write(f"Stopped: {reason}\n")
            return EXIT_INTERRUPTED
        except Exception as exc:
            # A bug. The traceback helps; redacted, because aiohttp puts URLs (SAS) in messages.
            text = "".join(traceback.format_exception(exc))
            err.write(f"{redact(text)}Error: internal error (a bug; please report it)\n")
            return EXIT_INTERNAL
    if retry is not None:
        try:
            with local_write(retry.report, "report"):
                summary = finish_retry(retry, summary, args, err)
        except DiskFullError as exc:
            err.write(f"Error: {exc.message}; {_DISK_FULL_HINT}\n")
            return EXIT_DISK_FULL
    err.write(summary.render() + "\n")
    err.flush()
    if args.summary_json:
        try:
            with local_write(args.summary_json, "summary"):
                Path(args.summary_json).write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
        except DiskFullError as exc:
            err.write(f"Error: {exc.message}\n")
            return EXIT_DISK_FULL
        except OSError as exc:
            err.write(f"Error: cannot write --summary-json: {exc.strerror}\n")
            return EXIT_USAGE
    return summary.exit_code
