"""The upload-link pace and the sandbox command line's knobs, without a socket."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from batcher.sandbox.cli_args import build_parser, config_from
from batcher.sandbox.config import FaultSpec, RateLimit
from batcher.sandbox.link import Link

pytestmark = pytest.mark.anyio


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_link_paces_every_reader_on_one_shared_timeline() -> None:
    t = FakeTime()
    link = Link(1_000_000, t.monotonic, t.sleep)
    await link.take(500_000)  # 0.5 s of link time
    await link.take(500_000)  # queued behind it: ends at 1.0 s
    assert t.now == pytest.approx(100.0 + 1.0 - 0.02)
    link.set_rate(None)
    await link.take(10**9)
    assert len(t.slept) == 2


async def test_link_without_a_rate_never_sleeps() -> None:
    t = FakeTime()
    link = Link(None, t.monotonic, t.sleep)

    async def chunks() -> object:
        for _ in range(3):
            yield b"x" * 1000

    assert await link.read_all(chunks()) == b"x" * 3000  # type: ignore[arg-type]
    assert t.slept == []
    with pytest.raises(ValueError, match="positive"):
        link.set_rate(0)
    await anyio.lowlevel.checkpoint()


def test_cli_rate_limits_latency_bandwidth_webhooks_and_state_dir(tmp_path: Path) -> None:
    config = config_from(
        build_parser(None).parse_args(
            [
                "--rate-limit",
                "upload=25",
                "--rate-limit",
                "submission_read=10:5",
                "--rate-limit",
                "webhook_read=2:1:30",
                "--retry-after",
                "5",
                "--latency",
                "0.01",
                "--latency",
                "submission_read=0.2",
                "--fault-rate",
                "0.75",
                "--blob-bandwidth",
                "25",
                "--webhook-loss",
                "0.1",
                "--webhook-duplicate",
                "0.2",
                "--webhook-ca-file",
                str(tmp_path / "ca.pem"),
                "--state-dir",
                str(tmp_path / "state"),
            ]
        )
    )
    assert config.rate_limits == {
        "upload": RateLimit(rate=25, burst=25),
        "submission_read": RateLimit(rate=10, burst=5),
        "webhook_read": RateLimit(rate=2, burst=1, retry_after_seconds=30),
    }
    assert config.retry_after_seconds == 5
    assert config.fault_for("get_submission") == FaultSpec(
        error_500=0.25, error_502=0.25, error_503=0.25, latency_seconds=0.2
    )
    assert config.fault_for("upload_url") == FaultSpec(
        error_500=0.25, error_502=0.25, error_503=0.25, latency_seconds=0.01
    )
    assert config.blob_bandwidth_bytes_per_s == 25_000_000
    assert (config.webhook_loss, config.webhook_duplicate) == (0.1, 0.2)
    assert config.webhook_ca_file == tmp_path / "ca.pem"
    assert config.state_dir == tmp_path / "state"


@pytest.mark.parametrize(
    "argv",
    [
        ["--rate-limit", "uploads=5"],
        ["--rate-limit", "upload=0"],
        ["--rate-limit", "upload=5:0"],
        ["--rate-limit", "upload"],
        ["--latency", "nowhere=1"],
        ["--webhook-loss", "1.5"],
    ],
)
def test_cli_refuses_bad_knobs(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser(None).parse_args(argv)
    assert "error" in capsys.readouterr().err


def test_group_latency_keys_reach_their_endpoints() -> None:
    assert config_from(build_parser(None).parse_args([])).faults == {}
    blob = config_from(build_parser(None).parse_args(["--latency", "blob=0.5"]))
    spec = blob.fault_for("blob_put_block")
    assert spec is not None and spec.latency_seconds == 0.5
    assert blob.fault_for("get_submission") is None
