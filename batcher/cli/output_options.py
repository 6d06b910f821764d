"""The main command's options for what a run shows and where: progress and log levels, the
log file, summaries, the dry run, and the webhook receiver (``options.build_parser`` adds
them after the options that shape the run)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from batcher.logs import LEVELS

if TYPE_CHECKING:
    from batcher.cli.options import OptionAdder

DEFAULT_LISTEN_HOST = "127.0.0.1"
DEFAULT_LISTEN_PORT = 8787


def add_output_options(add: OptionAdder) -> None:
    quiet = add.parser.add_mutually_exclusive_group()
    add.switch(
        "--quiet",
        "no progress and no per-row lines; only errors and the end summary",
        short="-q",
        into=quiet,
    )
    add.switch(
        "--verbose",
        "also a line per completed row; debug events in --log-file",
        short="-v",
        into=quiet,
    )
    add.opt(
        "--log-level",
        "DEBUG (= -v), INFO (default), NOTICE (progress and notices, no per-row lines) or "
        "ERROR (= -q); also the --log-file level",
        type=str.upper,
        choices=list(LEVELS),
        fallback=None,
    )
    add.opt(
        "--status-interval",
        "seconds between status lines when stderr is not a terminal",
        type=float,
        fallback=10.0,
    )
    add.opt(
        "--summary-json", "also write the end summary as one JSON object to this file", type=Path
    )
    add.opt("--log-file", "write events as JSON lines to this file (secrets redacted)", type=Path)
    add.opt(
        "--stats-json",
        "live progress as one JSON object per --status-interval to this file ('-': stderr, "
        "instead of the human display)",
        metavar="PATH",
    )
    add.switch(
        "--dry-run", "check the whole manifest with no network and print what a run would do"
    )
    add.opt(
        "--assume-mbps",
        "with --dry-run: bandwidth (MB/s) for the time estimate",
        type=float,
        fallback=50.0,
    )
    add.opt("--simulation-delay", "sandbox keys only: simulationDelaySeconds (0-30)", type=int)
    add.opt(
        "--webhook-url",
        "webhooks on: the public HTTPS URL the service calls (a subscription is made for "
        "the run and deleted at its end)",
    )
    add.opt(
        "--webhook-listen",
        "HOST:PORT the webhook receiver binds",
        fallback=f"{DEFAULT_LISTEN_HOST}:{DEFAULT_LISTEN_PORT}",
    )
    add.opt(
        "--webhook-tls-cert", "serve the receiver over TLS with this PEM certificate", type=Path
    )
    add.opt("--webhook-tls-key", "the PEM private key for --webhook-tls-cert", type=Path)
