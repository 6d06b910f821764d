"""``python -m batcher.sandbox``: run the sandbox in the foreground until Ctrl-C / SIGTERM.

Prints one line with the base URL. Any key starting ``sk_test_`` is accepted; no key is
ever printed. The access log (``--access-log``) goes through ``batcher.redact`` so SAS
signatures and keys never reach the terminal.

Knobs: per-bucket rate limits (--rate-limit upload=25 --rate-limit submission_read=10:5
--retry-after 5), latency (--latency 0.05, --latency submission_read=0.2), one shared
upload link (--blob-bandwidth 25 for 25 MB/s), 5xx and dropped connections (--fault-rate,
--drop-rate, --seed), webhook delivery faults (--webhook-loss, --webhook-duplicate) and the
CA trusted for HTTPS receivers (--webhook-ca-file). With --state-dir the sandbox keeps its
submissions, blobs and subscriptions on disk, so a restart (even after SIGKILL) resumes
them. docs/sandbox.md describes every knob and decision.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

import anyio
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from batcher.redact import redact
from batcher.sandbox.app import running_sandbox
from batcher.sandbox.cli_args import build_parser, config_from


class RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        line = f"{request.method} {request.path_qs} {response.status} {time * 1000:.1f}ms"
        self.logger.info(redact(line))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser(__doc__).parse_args(argv)


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
