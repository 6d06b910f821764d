"""The servers a measured run talks to: a fresh in-memory Azurite, and the MediaMagic sandbox
as its own process (so its CPU is not the client's). Both on loopback, both stopped by PID.

Azurite runs with the test fixture's flags (docs/blob.md) except ``--silent``: its access
log (one line per request, to a file) is how requests per asset are counted for every client alike.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import PROFILE, PYTHON, REPO, proc_cpu_seconds, proc_hwm_kb

ACCOUNT = "devstoreaccount1"
# Azurite's public, well-known development key (not a secret).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURITE_BIN = REPO / "node_modules" / ".bin" / "azurite-blob"
CONTAINER = "bench"
SANDBOX_KEY = "sk_test_bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(proc: subprocess.Popen[bytes], port: int, what: str, log: Path) -> None:
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within 30 s")


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@dataclass
class Azurite:
    pid: int
    port: int
    log: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint={self.endpoint};"
        )

    def container_sas(self, container: str = CONTAINER, permissions: str = "racwdl") -> str:
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        token: str = generate_container_sas(
            account_name=ACCOUNT,
            container_name=container,
            account_key=KEY,
            permission=ContainerSasPermissions.from_string(permissions),
            expiry=datetime.now(UTC) + timedelta(hours=2),
        )
        return token

    def container_url(self, container: str = CONTAINER) -> str:
        return f"{self.endpoint}/{container}"

    def create_container(self, container: str = CONTAINER) -> None:
        from azure.storage.blob import BlobServiceClient

        with BlobServiceClient.from_connection_string(self.connection_string) as svc:
            svc.create_container(container)

    def listing(self, container: str = CONTAINER) -> tuple[int, int]:
        """(blobs, bytes) committed in the container: every run is checked by listing."""
        from azure.storage.blob import BlobServiceClient

        count = total = 0
        with BlobServiceClient.from_connection_string(self.connection_string) as svc:
            for blob in svc.get_container_client(container).list_blobs():
                count += 1
                total += int(blob.size)
        return count, total

    def cpu(self) -> float:
        return proc_cpu_seconds(self.pid)

    def peak_rss_mb(self) -> float:
        return proc_hwm_kb(self.pid) / 1024

    def log_offset(self) -> int:
        return self.log.stat().st_size

    def requests_since(self, offset: int) -> dict[str, int]:
        """Requests in the access log after ``offset``, by operation."""
        with self.log.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
        return dict(count_azure_ops(text))


_LOG_LINE = re.compile(r'"(GET|PUT|HEAD|POST|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')


def count_azure_ops(log_text: str) -> Counter[str]:
    ops: Counter[str] = Counter()
    for method, path, status in _LOG_LINE.findall(log_text):
        query = path.split("?", 1)[1] if "?" in path else ""
        params: dict[str, str] = {}
        for part in query.split("&"):
            key, _, value = part.partition("=")
            params[key] = value
        comp = params.get("comp")
        if method == "PUT" and comp == "block":
            name = "PutBlock"
        elif method == "PUT" and comp == "blocklist":
            name = "PutBlockList"
        elif method == "PUT" and params.get("restype") == "container":
            name = "CreateContainer"
        elif method == "PUT":
            name = "PutBlob"
        elif method == "HEAD":
            name = "Head"
        elif method == "GET" and comp == "list":
            name = "List"
        else:
            name = f"{method} {comp or ''}".strip()
        ops[name] += 1
        if not status.startswith("2"):
            ops[f"status_{status}"] += 1
    return ops


@contextmanager
def azurite(run_dir: Path) -> Iterator[Azurite]:
    """A fresh in-memory Azurite with the benchmark container; stopped on exit."""
    if not AZURITE_BIN.exists():
        raise RuntimeError(f"{AZURITE_BIN} missing: run `npm ci` in {REPO}")
    run_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = run_dir / "azurite.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(AZURITE_BIN), "--blobHost", "127.0.0.1", "--blobPort", str(port),
             "--inMemoryPersistence", "--skipApiVersionCheck", "--loose", "--disableTelemetry"],
            cwd=run_dir, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_listening(proc, port, "azurite-blob", log)
        server = Azurite(proc.pid, port, log)
        server.create_container()
        yield server
    finally:
        _stop(proc)


@dataclass
class SandboxProc:
    pid: int
    base_url: str
    state_path: Path
    state: dict[str, Any]

    def cpu(self) -> float:
        return proc_cpu_seconds(self.pid)

    def peak_rss_mb(self) -> float:
        return proc_hwm_kb(self.pid) / 1024


@contextmanager
def sandbox(
    run_dir: Path,
    *,
    processing_delay: float = 0.0,
    blob_bandwidth: float | None = None,
    extra_args: Sequence[str] = (),
    port: int | None = None,
) -> Iterator[SandboxProc]:
    """``benchmarks.sandbox_server`` in its own process; ``.state`` is filled on exit.
    ``blob_bandwidth`` (bytes/s) emulates a slow link, shared by every upload body;
    ``extra_args``: its ``--rate-limit``, ``--retry-after`` and ``--latency`` flags; ``port``:
    the same one as an earlier sandbox's (the same base URL, as on the next night)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    state_path = run_dir / "sandbox-state.json"
    log = run_dir / "sandbox.log"
    store = run_dir / "sandbox-store"
    cmd = [PYTHON, "-m", "benchmarks.sandbox_server", "--port", str(port),
           "--processing-delay", str(processing_delay), "--state-out", str(state_path),
           "--storage-dir", str(store), *extra_args]  # fmt: skip
    if blob_bandwidth is not None:
        cmd += ["--blob-bandwidth", str(blob_bandwidth)]
    with log.open("wb") as out:
        # --ab: the "before" case's sandbox comes from the older checkout too.
        where = PROFILE.client_cwd or REPO
        proc = subprocess.Popen(cmd, cwd=where, stdout=out, stderr=subprocess.STDOUT)
    spy: subprocess.Popen[bytes] | None = None
    if PROFILE.server_output is not None:  # attach, so that SIGTERM still reaches the sandbox
        spy = subprocess.Popen(
            [PROFILE.py_spy, "record", "--format", "raw", "--rate", "250", "--nonblocking",
             "--pid", str(proc.pid), "-o", str(PROFILE.server_output)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    server = SandboxProc(proc.pid, f"http://127.0.0.1:{port}", state_path, {})
    try:
        _wait_listening(proc, port, "sandbox", log)
        yield server
    finally:
        _stop(proc)
        if spy is not None:
            spy.wait(timeout=30)
        if state_path.exists():
            server.state = json.loads(state_path.read_text())
