"""Polling vs webhooks: status reads per submission, and the lag from an asset's end to its
report line, with a 6 s processing time.

    python -m benchmarks.webhooks [--files 40] [--batch 10] [--processing 6] [--loss 0]

One process: the sandbox (in process, on loopback) and ``run_batch``; the receiver serves
TLS with a ``trustme`` CA the sandbox trusts. The lag is measured on one clock: the
sandbox's asset end time (wall clock) against the moment the report writer handed the row's
line to the view (wall clock), so it includes event delivery, E6 and the report write.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import trustme
from pydantic import SecretStr

from batcher.config import PollSettings, Settings, WebhookSettings
from batcher.outcome import ReportLine
from batcher.pipeline import run_batch
from batcher.progress.model import Snapshot
from batcher.sandbox import DEFAULT_TEST_KEY, SandboxConfig, running_sandbox

PDF_MAGIC = b"%PDF-1.7\n"


class Stamps:
    """A progress view that only notes when each row's line was written."""

    interval = 1.0

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    def update(self, snapshot: Snapshot) -> None:
        pass

    def row_finished(self, line: ReportLine) -> None:
        if line.asset_id:
            self.at[line.asset_id] = time.time()

    def notice(self, text: str) -> None:
        pass

    def close(self, snapshot: Snapshot) -> None:
        pass


@dataclass
class Result:
    mode: str
    submissions: int
    status_reads: int
    lags: list[float]
    wall: float

    def row(self) -> str:
        lags = sorted(self.lags)
        p95 = lags[int(0.95 * (len(lags) - 1))]
        per = self.status_reads / self.submissions
        return (
            f"| {self.mode} | {self.submissions} | {self.status_reads} | {per:.2f} | "
            f"{statistics.median(lags):.3f} | {p95:.3f} | {max(lags):.3f} | {self.wall:.1f} |"
        )


def _manifest(folder: Path, files: int) -> Path:
    rows = ["path"]
    for i in range(files):
        (folder / f"f{i}.pdf").write_bytes(PDF_MAGIC + f"benchmark file {i}\n".encode() * 50)
        rows.append(f"f{i}.pdf")
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def _tls(folder: Path, ca: trustme.CA) -> tuple[Path, Path]:
    server = ca.issue_cert("127.0.0.1")
    cert, key = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(b"".join(p.bytes() for p in server.cert_chain_pems))
    server.private_key_pem.write_to_path(str(key))
    return cert, key


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def measure(mode: str, args: argparse.Namespace) -> Result:
    ca = trustme.CA()
    client_ssl = ssl.create_default_context()
    ca.configure_trust(client_ssl)
    config = SandboxConfig(processing_delay=args.processing, webhook_loss=args.loss)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        manifest = _manifest(folder, args.files)
        hooks = None
        if mode == "webhooks":
            cert, key = _tls(folder, ca)
            port = _port()
            hooks = WebhookSettings(
                url=f"https://127.0.0.1:{port}/hook", listen_port=port, tls_cert=cert, tls_key=key
            )
        view = Stamps()
        async with running_sandbox(config, webhook_ssl_context=client_ssl) as sb:
            values: dict[str, Any] = {
                "base_url": sb.base_url,
                "api_key": SecretStr(DEFAULT_TEST_KEY),
                "report_path": folder / "report.jsonl",
                "batch_size": args.batch,
                "batch_linger": 0.05,
                "poll": PollSettings(),  # the defaults: 5 s, ×1.5, up to 60 s
                "webhooks": hooks,
            }
            started = time.monotonic()
            summary = await run_batch(manifest, Settings(**values), view=view)
            wall = time.monotonic() - started
            ends = {
                a.asset_id: a.attempts[-1].ends_at
                for record in sb.state.submissions.values()
                for a in record.assets
            }
            reads = sb.state.requests["get_submission"]
            submissions = len(sb.state.submissions)
        if summary.complete != args.files:
            raise SystemExit(f"{mode}: only {summary.complete} of {args.files} complete")
        lags = [view.at[a] - end for a, end in ends.items()]
        return Result(mode, submissions, reads, lags, wall)


async def main_async(args: argparse.Namespace) -> None:
    results = [await measure(mode, args) for mode in ("polling", "webhooks")]
    print(
        f"{args.files} files, {args.batch} per submission, processing {args.processing:g} s, "
        f"event loss {args.loss:.0%}"
    )
    print("| mode | submissions | E5 reads | E5 per submission | lag median s | lag p95 s "
          "| lag max s | wall s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for result in results:
        print(result.row())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--files", type=int, default=40)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--processing", type=float, default=6.0)
    p.add_argument("--loss", type=float, default=0.0)
    anyio.run(main_async, p.parse_args())


if __name__ == "__main__":
    main()
