"""``batcher ray MANIFEST --shards N [--address ADDR] [--state DIR] [run options]``.

Starts (or, with ``--address``, joins) a Ray cluster, runs one task per shard with shared
rate-limit gates, merges the shard reports into ``--report`` and exits with the whole run's
code. Needs the ``ray`` extra: ``pip install 'batcher[ray]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from batcher.cli.layers import parse_main
from batcher.cli.options import build_parser, env_name
from batcher.cli.settings import settings_from
from batcher.errors import FatalApiError, UsageError
from batcher.pipeline import default_report_path
from batcher.redact import redact
from batcher.summary import EXIT_FATAL_API, EXIT_USAGE, RunSummary


def _env_default(name: str, fallback: Any) -> Any:
    return os.environ.get(env_name(name), fallback)


def pre_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="batcher ray",
        add_help=False,
        allow_abbrev=False,  # else --shard (a run option, refused here) would mean --shards
        description="Run MANIFEST as N shards on a Ray cluster and merge their reports; every "
        "option of the main command applies to each shard.",
    )
    p.add_argument(
        "--shards",
        type=int,
        default=_env_default("shards", None),
        help="number of shards (Ray tasks) [env BATCHER_SHARDS]",
    )
    p.add_argument(
        "--address",
        default=_env_default("address", None),
        help="Ray cluster to join (default: start a local one; RAY_ADDRESS is "
        "honoured too) [env BATCHER_ADDRESS]",
    )
    p.add_argument(
        "--state",
        type=Path,
        default=_env_default("state", None),
        help="folder for the shards' reports and journals; shared storage that "
        "every node reaches (default: <report>.shards/) [env BATCHER_STATE]",
    )
    p.add_argument(
        "--task-retries",
        type=int,
        default=int(_env_default("task-retries", 3)),
        help="times Ray runs a shard again after its worker died (default 3) "
        "[env BATCHER_TASK_RETRIES]",
    )
    return p


@asynccontextmanager
async def _sandbox(on: bool) -> AsyncIterator[dict[str, Any]]:
    if not on:
        yield {}
        return
    # Imported only here: client code never depends on the sandbox. It runs in this (the
    # driver's) process so it outlives the shards; it listens on loopback, so it serves a
    # local cluster only.
    from pydantic import SecretStr

    from batcher.config import PollSettings
    from batcher.sandbox import DEFAULT_TEST_KEY, SandboxConfig, running_sandbox

    async with running_sandbox(SandboxConfig(processing_delay=1.0)) as sb:
        print(f"sandbox: MediaMagic emulator at {sb.base_url}", file=sys.stderr)
        os.environ["MEDIAMAGIC_API_KEY"] = DEFAULT_TEST_KEY  # inherited by local workers
        yield {
            "base_url": sb.base_url,
            "api_key": SecretStr(DEFAULT_TEST_KEY),
            "poll": PollSettings(initial=0.5, max_interval=5.0),
        }


async def _drive(pre: argparse.Namespace, args: argparse.Namespace) -> RunSummary:
    from batcher.scale.ray_run import RayRun

    async with _sandbox(bool(args.sandbox)) as override:
        if args.sandbox and args.poll_interval is not None:
            override.pop("poll")
        settings = settings_from(args, **override)
        if settings.api_key is None:
            raise UsageError(
                "no API key: set MEDIAMAGIC_API_KEY (or use --api-key-file PATH on storage "
                "every node reads), or run against the built-in sandbox with --sandbox"
            )
        report = settings.report_path or default_report_path(args.manifest)
        state = pre.state or report.with_name(report.name + ".shards")
        run = RayRun(
            manifest=args.manifest,
            settings=settings.model_copy(update={"api_key": None, "report_path": report}),
            key_file=Path(args.api_key_file) if args.api_key_file else None,
            shards=pre.shards,
            state=state,
            address=pre.address,
            task_retries=pre.task_retries,
        )
        return await run.run()


def main(argv: Sequence[str]) -> int:
    parser = pre_parser()
    if any(a in ("-h", "--help") for a in argv):
        parser.print_help()
        print("\nrun options (for each shard):", file=sys.stdout)
        build_parser().print_help()
        return 0
    try:
        pre, rest = parser.parse_known_args(list(argv))
        args = parse_main(rest)
        if pre.shards is None or int(pre.shards) < 1:
            raise UsageError("batcher ray needs --shards N (N >= 1)")
        pre.shards = int(pre.shards)
        if args.shard:
            raise UsageError("batcher ray makes the shards itself; drop --shard")
        if args.dry_run:
            raise UsageError("--dry-run: run it without `ray` (the plan does not depend on N)")
        started = time.monotonic()
        summary = anyio.run(_drive, pre, args)
    except UsageError as exc:
        print(f"Error: {redact(exc.message)}", file=sys.stderr)
        return EXIT_USAGE
    except FatalApiError as exc:
        print(
            f"Error: {redact(exc.message)} (HTTP {exc.http_status}); run aborted", file=sys.stderr
        )
        return EXIT_FATAL_API
    except ImportError as exc:
        print(f"Error: {exc}; install the extra: pip install 'batcher[ray]'", file=sys.stderr)
        return EXIT_USAGE
    print(summary.render(), file=sys.stderr)
    print(f"  (wall {time.monotonic() - started:,.1f} s with cluster start)", file=sys.stderr)
    if args.summary_json:
        try:
            Path(args.summary_json).write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
        except OSError as exc:
            print(f"Error: cannot write --summary-json: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
    return summary.exit_code
