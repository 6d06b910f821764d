"""``python -m batcher.sandbox``: run the sandbox in the foreground until Ctrl-C / SIGTERM.

Prints one line with the base URL. Any key starting ``sk_test_`` is accepted; no key is
ever printed. The access log (``--access-log``) goes through ``batcher.redact`` so SAS
signatures and keys never reach the terminal.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

import anyio
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from batcher.redact import redact
from batcher.sandbox.app import running_sandbox
from batcher.sandbox.config import FaultSpec, SandboxConfig


class RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        line = f"{request.method} {request.path_qs} {response.status} {time * 1000:.1f}ms"
        self.logger.info(redact(line))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m batcher.sandbox", description=__doc__)
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
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    p.add_argument("--sas-lifetime", type=int, default=3600, help="SAS lifetime in seconds")
    p.add_argument("--sas-permissions", default="cw", help='SAS permissions (default "cw")')
    p.add_argument("--direct-max-bytes", type=int, default=10_000_000, help="E2 size cap")
    p.add_argument("--storage-dir", type=Path, default=None, help="where blob bytes are kept")
    p.add_argument("--access-log", action="store_true", help="log requests (redacted) to stderr")
    return p.parse_args(argv)


def config_from(args: argparse.Namespace) -> SandboxConfig:
    faults: dict[str, FaultSpec] = {}
    if args.fault_rate or args.drop_rate or args.latency:
        third = args.fault_rate / 3
        faults["*"] = FaultSpec(
            error_500=third,
            error_502=third,
            error_503=third,
            drop_before=args.drop_rate,
            latency_seconds=args.latency,
        )
    return SandboxConfig(
        processing_delay=args.processing_delay,
        seed=args.seed,
        faults=faults,
        sas_lifetime_seconds=args.sas_lifetime,
        sas_permissions=args.sas_permissions,
        direct_max_bytes=args.direct_max_bytes,
        storage_dir=args.storage_dir,
    )


async def serve(args: argparse.Namespace) -> None:
    log_class = RedactingAccessLogger if args.access_log else None
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with running_sandbox(
            config_from(args), host=args.host, port=args.port, access_log_class=log_class
        ) as sandbox:
            # The one line a launcher reads to learn the port (stdout, flushed at once).
            sys.stdout.write(f"MediaMagic sandbox listening on {sandbox.base_url}\n")
            sys.stdout.flush()
            async for _ in signals:
                break


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.access_log:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    anyio.run(serve, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
