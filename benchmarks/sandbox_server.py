"""The sandbox in its own process for benchmarks: serve until SIGTERM, then write what it
saw (request counts by endpoint, submissions, bytes, 429s, early requests) as JSON for the
runner.

    python -m benchmarks.sandbox_server --port 8765 --processing-delay 0 --state-out s.json
        [--rate-limit upload=25:25:5 ...] [--retry-after 5] [--latency 0.04]

``--rate-limit``, ``--retry-after`` and ``--latency`` mean what they mean for
``python -m batcher.sandbox``.
"""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path

import anyio

from batcher.sandbox import SandboxConfig, running_sandbox
from batcher.sandbox.cli_args import latency_arg, rate_limit_arg
from batcher.sandbox.config import FaultSpec


async def serve(args: argparse.Namespace) -> None:
    faults = {group: FaultSpec(latency_seconds=s) for group, s in args.latency}
    config = SandboxConfig(
        processing_delay=args.processing_delay,
        storage_dir=args.storage_dir,
        blob_bandwidth_bytes_per_s=args.blob_bandwidth,
        rate_limits=dict(args.rate_limit),
        retry_after_seconds=args.retry_after,
        faults=faults,
    )
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with running_sandbox(config, port=args.port) as sb:
            print(f"sandbox listening on {sb.base_url}", flush=True)
            async for _ in signals:
                break
            state = sb.state
            snapshot = {
                "requests": dict(state.requests),
                "responses": dict(state.responses),
                "created_submissions": state.created_submissions,
                "assets": sum(len(s.assets) for s in state.submissions.values()),
                "blob_bytes_received": state.blob_bytes_received,
                "blobs": len(state.blobs),
                "submission_times": sorted(s.created_at for s in state.submissions.values()),
                "bucket_requests": dict(state.bucket_requests),
                "rate_limited": dict(state.rate_limited),
                "rate_limit_violations": [
                    {"bucket": v.bucket, "endpoint": v.endpoint, "early_by_s": v.early_by_seconds}
                    for v in state.rate_limit_violations
                ],
            }
            args.state_out.write_text(json.dumps(snapshot))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--processing-delay", type=float, default=0.0)
    p.add_argument("--state-out", type=Path, required=True)
    p.add_argument("--storage-dir", type=Path, default=None)
    p.add_argument("--blob-bandwidth", type=float, default=None, help="bytes/s, shared")
    p.add_argument("--rate-limit", type=rate_limit_arg, action="append", default=[])
    p.add_argument("--retry-after", type=int, default=1)
    p.add_argument("--latency", type=latency_arg, action="append", default=[])
    anyio.run(serve, p.parse_args())


if __name__ == "__main__":
    main()
