"""The command line of ``python -m batcher.sandbox``: flags and their translation to a
``SandboxConfig``. Kept apart from ``__main__`` so tests can parse without serving."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from batcher.sandbox.config import (
    API_ENDPOINTS,
    BLOB_ENDPOINTS,
    BUCKETS,
    BucketName,
    FaultSpec,
    RateLimit,
    SandboxConfig,
)

_LATENCY_GROUPS = frozenset([*API_ENDPOINTS, *BUCKETS, *BLOB_ENDPOINTS, "blob"])
MB = 1_000_000  # --blob-bandwidth is in decimal megabytes, like link speeds


def rate_limit_arg(text: str) -> tuple[BucketName, RateLimit]:
    """``BUCKET=RATE[:BURST[:RETRY_AFTER]]``; BURST defaults to one second's worth."""
    bucket, sep, spec = text.partition("=")
    if not sep or bucket not in BUCKETS:
        raise argparse.ArgumentTypeError(
            f"expected BUCKET=RATE[:BURST[:RETRY_AFTER]] with BUCKET one of {', '.join(BUCKETS)}"
        )
    fields = spec.split(":")
    try:
        rate = float(fields[0])
        burst = int(fields[1]) if len(fields) > 1 and fields[1] else max(1, math.ceil(rate))
        retry_after = int(fields[2]) if len(fields) > 2 and fields[2] else None
        if len(fields) > 3 or rate <= 0 or burst < 1 or (retry_after or 0) < 0:
            raise ValueError(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bad rate limit {spec!r}: RATE > 0 per second, BURST >= 1, RETRY_AFTER >= 0"
        ) from None
    return bucket, RateLimit(rate=rate, burst=burst, retry_after_seconds=retry_after)


def latency_arg(text: str) -> tuple[str, float]:
    """``SECONDS`` (every request) or ``GROUP=SECONDS``."""
    group, sep, value = text.rpartition("=")
    if sep and group not in _LATENCY_GROUPS:
        raise argparse.ArgumentTypeError(
            f"unknown latency group {group!r}: use an endpoint name, a bucket name or 'blob'"
        )
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad latency {value!r}: seconds expected") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError("latency must be >= 0")
    return (group if sep else "*"), seconds


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("expected a fraction between 0 and 1")
    return value


def build_parser(description: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m batcher.sandbox",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port to bind; 0 picks a free one")
    p.add_argument(
        "--processing-delay", type=float, default=2.0, help="seconds until a submission ends"
    )
    p.add_argument("--seed", type=int, default=0, help="seed for fault injection")
    p.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="probability of a 5xx answer on every endpoint, split evenly over 500/502/503",
    )
    p.add_argument(
        "--drop-rate", type=float, default=0.0, help="probability of a dropped connection"
    )
    p.add_argument(
        "--latency",
        type=latency_arg,
        action="append",
        default=[],
        metavar="[GROUP=]SECONDS",
        help="seconds added to every request, or to one GROUP (an endpoint name such as "
        "get_submission, a bucket such as submission_read, or 'blob'); repeatable",
    )
    p.add_argument(
        "--rate-limit",
        type=rate_limit_arg,
        action="append",
        default=[],
        metavar="BUCKET=RATE[:BURST[:RETRY_AFTER]]",
        help="per-key token bucket: RATE requests/s, BURST saved (default: one second's "
        "worth), RETRY_AFTER seconds in its 429s (default --retry-after); repeatable. "
        f"Buckets: {', '.join(BUCKETS)}",
    )
    p.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds sent with a 429")
    p.add_argument(
        "--blob-bandwidth",
        type=float,
        default=None,
        metavar="MBps",
        help="pace all upload bodies together to this many MB (10^6 bytes) per second",
    )
    p.add_argument("--sas-lifetime", type=int, default=3600, help="SAS lifetime in seconds")
    p.add_argument("--sas-permissions", default="cw", help='SAS permissions (default "cw")')
    p.add_argument("--direct-max-bytes", type=int, default=10_000_000, help="E2 size cap")
    p.add_argument("--storage-dir", type=Path, default=None, help="where blob bytes are kept")
    p.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="keep submissions, blobs and subscriptions here so a restarted sandbox "
        "(even after SIGKILL) still knows them",
    )
    p.add_argument(
        "--webhook-loss", type=_fraction, default=0.0, help="fraction of events never delivered"
    )
    p.add_argument(
        "--webhook-duplicate",
        type=_fraction,
        default=0.0,
        help="fraction of events delivered twice",
    )
    p.add_argument(
        "--webhook-ca-file",
        type=Path,
        default=None,
        help="PEM file of CAs to trust for HTTPS webhook receivers (default: system CAs)",
    )
    p.add_argument(
        "--webhook-subscription-limit",
        type=int,
        default=10,
        help="webhook subscriptions allowed per workspace (422 beyond)",
    )
    p.add_argument("--access-log", action="store_true", help="log requests (redacted) to stderr")
    return p


def faults_from(args: argparse.Namespace) -> dict[str, FaultSpec]:
    third = args.fault_rate / 3
    rates = {
        "error_500": third,
        "error_502": third,
        "error_503": third,
        "drop_before": args.drop_rate,
    }
    latencies: dict[str, float] = dict(args.latency)
    everywhere = latencies.pop("*", 0.0)
    faults: dict[str, FaultSpec] = {}
    if args.fault_rate or args.drop_rate or everywhere:
        faults["*"] = FaultSpec(**rates, latency_seconds=everywhere)
    # A group's spec replaces "*" for that group, so it carries the global fault rates too.
    for group, seconds in latencies.items():
        faults[group] = FaultSpec(**rates, latency_seconds=seconds)
    return faults


def config_from(args: argparse.Namespace) -> SandboxConfig:
    bandwidth = args.blob_bandwidth * MB if args.blob_bandwidth else None
    return SandboxConfig(
        processing_delay=args.processing_delay,
        seed=args.seed,
        faults=faults_from(args),
        rate_limits=dict(args.rate_limit),
        retry_after_seconds=args.retry_after,
        blob_bandwidth_bytes_per_s=bandwidth,
        sas_lifetime_seconds=args.sas_lifetime,
        sas_permissions=args.sas_permissions,
        direct_max_bytes=args.direct_max_bytes,
        storage_dir=args.storage_dir,
        state_dir=args.state_dir,
        webhook_loss=args.webhook_loss,
        webhook_duplicate=args.webhook_duplicate,
        webhook_ca_file=args.webhook_ca_file,
        webhook_subscription_limit=args.webhook_subscription_limit,
    )
