"""The main command's options: argv + environment + config file → Settings.

Every option can also be set by an environment variable ``BATCHER_<OPTION>`` (dashes become
underscores) or in a TOML config file (``layers.py``); the command line wins, then the
environment, then the file. The API key is never an option value (it would show in process
listings): ``MEDIAMAGIC_API_KEY`` or ``--api-key-file``.
"""

from __future__ import annotations

import argparse
from importlib import metadata
from pathlib import Path
from typing import Any

from batcher.cli.output_options import DEFAULT_LISTEN_HOST, add_output_options
from batcher.config import MiB, PollSettings, Settings

ENV_PREFIX = "BATCHER_"
__all__ = ["DEFAULT_LISTEN_HOST", "OptionAdder", "build_parser", "env_name"]


class OptionAdder:
    """Declares options with their ``BATCHER_<OPTION>`` variable named in the help."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser

    def opt(self, flag: str, help_text: str, **kw: Any) -> None:
        name = flag.lstrip("-")
        kw.setdefault("default", kw.pop("fallback", None))
        self.parser.add_argument(flag, help=f"{help_text} [env {env_name(name)}]", **kw)

    def switch(
        self, flag: str, help_text: str, *, short: str | None = None, into: Any = None
    ) -> None:
        """An on/off flag; its variable is on when set to 1, true or yes."""
        name = flag.lstrip("-")
        flags = [short, flag] if short else [flag]
        (into or self.parser).add_argument(
            *flags, action="store_true", default=False, help=f"{help_text} [env {env_name(name)}=1]"
        )


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper().replace("-", "_")


DESCRIPTION = """\
Upload media to MediaMagic, submit it for compliance review, track every submission and
write one JSON line per manifest row.

commands:
  batcher MANIFEST [options]        run (the options below)
  batcher retry REPORT [options]    run again only the rows that ended failed or error
  batcher report REPORT [options]   summarise a report: filters, --json, --lines, --html
  batcher manifest DIR [options]    write a manifest of a folder's acceptable files
  batcher merge REPORT... -o OUT    one report from shard reports (--shard K/N runs)
  batcher ray MANIFEST --shards N   run the shards as Ray tasks, merge their reports
  batcher help [COMMAND]            this help, or a command's (also COMMAND --help)
"""

EPILOG = """\
Every option can also be set as BATCHER_<OPTION> in the environment (BATCHER_UPLOAD_WORKERS=16)
or in a TOML config file with the option names as keys (upload-workers = 16, dashes or
underscores): --config PATH, else $BATCHER_CONFIG, else ./batcher.toml when present.
The command line wins over the environment, which wins over the file.
The API key: MEDIAMAGIC_API_KEY or --api-key-file, never an option value.
"""


def version() -> str:
    try:
        return metadata.version("batcher")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _d(name: str) -> Any:
    """A setting's default, defined once in ``Settings`` (config.py)."""
    return Settings.model_fields[name].get_default(call_default_factory=True)


def _p(name: str) -> Any:
    """A polling setting's default, defined once in ``PollSettings``."""
    return PollSettings.model_fields[name].get_default(call_default_factory=True)


def build_parser() -> argparse.ArgumentParser:
    """The options with their built-in defaults; ``layers.parse_main`` adds file and env."""
    p = argparse.ArgumentParser(
        prog="batcher",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    add = OptionAdder(p)
    opt, switch = add.opt, add.switch

    p.add_argument("manifest", type=Path, help="CSV (header with a 'path' column) or JSON Lines")
    p.add_argument("--version", action="version", version=f"batcher {version()}")
    opt(
        "--config",
        "TOML file of option defaults (default: ./batcher.toml when present)",
        type=Path,
        metavar="PATH",
    )
    switch(
        "--sandbox",
        "start the built-in MediaMagic sandbox on loopback and run against it (no API key needed)",
    )
    opt("--report", "report path (default: <manifest stem>.report.jsonl here)", type=Path)
    opt("--api-key-file", "read the API key from this file (else MEDIAMAGIC_API_KEY)", type=Path)
    opt("--base-url", "API base URL (else MEDIAMAGIC_BASE_URL, else the preview service)")
    opt("--upload-workers", "files uploaded at once", type=int, fallback=_d("upload_workers"))
    opt(
        "--block-size",
        "block size in MiB for presigned uploads",
        type=int,
        fallback=_d("block_size") // MiB,
    )
    opt(
        "--block-concurrency",
        "blocks of one file in flight at once",
        type=int,
        fallback=_d("block_concurrency"),
    )
    opt(
        "--memory-budget",
        "MiB of file data buffered in flight, whole run",
        type=int,
        fallback=_d("memory_budget") // MiB,
    )
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
    opt(
        "--direct-max-bytes",
        "largest file sent by direct upload",
        type=int,
        fallback=_d("direct_max_bytes"),
    )
    opt("--batch-size", "assets per submission", type=int, fallback=_d("batch_size"))
    opt(
        "--batch-linger",
        "seconds a partial batch waits for more rows",
        type=float,
        fallback=_d("batch_linger"),
    )
    opt("--poll-workers", "submissions polled at once", type=int, fallback=_p("workers"))
    opt(
        "--poll-interval",
        "first poll wait in seconds, grows for long jobs",
        type=float,
        fallback=None,
    )
    opt(
        "--poll-max-interval",
        "longest wait between polls",
        type=float,
        fallback=_p("max_interval"),
    )
    opt(
        "--poll-deadline",
        "give up on a submission after this many seconds",
        type=float,
        fallback=_p("deadline"),
    )
    opt(
        "--asset-retries",
        "E9 retries of a failed retryable asset",
        type=int,
        fallback=_p("asset_retries"),
    )
    opt("--request-timeout", "seconds per API request", type=float, fallback=_d("request_timeout"))
    opt(
        "--retries",
        "attempts per request for retryable errors",
        type=int,
        fallback=_d("retry_attempts"),
    )
    opt(
        "--max-throttle-wait",
        "longest Retry-After (s) waited out; a longer one stops the run to re-run later",
        type=float,
        fallback=_d("max_throttle_wait"),
    )
    opt(
        "--max-rate",
        "your ceiling per rate-limit bucket, requests/s, e.g. upload=20,submission_read=5 "
        "(a key shared with other tools)",
        fallback=None,
    )
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
        fallback=_d("rerun"),
    )
    opt(
        "--on-ambiguous-create",
        "when a create's answer was lost but the service holds it: resubmit the files under "
        "fresh names (marked in the report) or report them submission_unconfirmed",
        choices=["resubmit", "report"],
        fallback=_d("on_ambiguous_create"),
    )
    opt(
        "--manifest-encoding",
        "manifest text encoding: auto (byte-order mark, else UTF-8) or a codec such as "
        "latin-1, cp1252, utf-16",
        fallback=_d("manifest_encoding"),
    )
    opt(
        "--shard",
        "K/N: only the rows whose path hashes to K of N (K from 0); merge the shard reports "
        "with `batcher merge`",
    )
    switch(
        "--incremental",
        "nightly sweep: unchanged rows carry their last result (nothing sent), changed rows "
        "are reviewed as the next version",
    )
    opt(
        "--key",
        "manifest column that identifies a row across runs, so a moved or renamed file keeps "
        "its history (default: the resolved path)",
    )
    switch(
        "--checksum",
        "with --incremental: tell a change by SHA-256 of the content, not size and mtime "
        "(reads every file every sweep)",
    )
    opt(
        "--max-age",
        "with --incremental: review again (as a new version) results older than DAYS",
        type=float,
    )
    switch(
        "--refresh-issues",
        "with --incremental: fetch carried rows' results again (one E6 each) so issue "
        "statuses changed on the platform show",
    )
    opt("--journal", "resume journal (default: <report>.journal.sqlite)", type=Path)
    switch("--fresh", "ignore an unfinished earlier run's journal and start afresh")
    opt(
        "--shutdown-grace",
        "after Ctrl-C/SIGTERM, seconds in-flight requests may take",
        type=float,
        fallback=_d("shutdown_grace"),
    )
    add_output_options(add)
    return p
