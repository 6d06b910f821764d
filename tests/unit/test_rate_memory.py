"""Learned rates kept between runs (``batcher/pacing/memory.py``): in the journal, scoped to
the service and key (a fingerprint, never the key), kept across ``--fresh``, forgotten when
old; and a whole second run over the same report starts paced and meets no 429."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from batcher.api.testing import FakeMediaMagic
from batcher.clock import FakeClock
from batcher.pacing import Learned
from batcher.pacing.memory import MAX_AGE, RateMemory, rate_scope
from batcher.pipeline import Transports, run_batch
from batcher.state.store import JournalStore
from batcher.summary import RunSummary
from tests.unit.rig import fake_run_settings, report_lines, write_pngs

KEY = "sk_test_Zq8rT3vV0pLm2Xc9"
URL = "https://api.example.test/"
UPLOAD = Learned(24.2, 25.0, 30.0, 24.9, settled=True)


def _store(tmp_path: Path, *, fresh: bool = False) -> JournalStore:
    return JournalStore(tmp_path / "j.sqlite", fresh=fresh, now=lambda: 0.0)


def test_learned_rates_survive_fresh_and_stay_with_their_key(tmp_path: Path) -> None:
    store = _store(tmp_path)
    RateMemory(store, rate_scope(URL, KEY)).save({"upload": UPLOAD})
    store.close()

    store = _store(tmp_path, fresh=True)  # --fresh starts the sweep over, not the learning
    assert RateMemory(store, rate_scope(URL, KEY)).load() == {"upload": UPLOAD}
    assert RateMemory(store, rate_scope(URL, "sk_test_other")).load() == {}
    assert RateMemory(store, rate_scope("https://other.test", KEY)).load() == {}
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert KEY.encode() not in raw
    assert KEY[8:].encode() not in raw


def test_the_scope_keeps_no_credentials_of_the_url() -> None:
    scope = rate_scope("https://user:hunter2@api.example.test:8443/v1/?token=s3cret", KEY)
    assert scope.startswith("https://api.example.test:8443/v1 key:")
    assert "hunter2" not in scope and "s3cret" not in scope and KEY not in scope
    assert rate_scope(URL, KEY) == rate_scope(URL.rstrip("/"), KEY)


def test_old_learned_rates_are_learned_again(tmp_path: Path) -> None:
    store = _store(tmp_path)
    memory = RateMemory(store, rate_scope(URL, KEY))
    then = datetime(2026, 1, 1, tzinfo=UTC)
    memory.save({"upload": UPLOAD}, now=then)
    assert memory.load(now=then + MAX_AGE - timedelta(days=1)) == {"upload": UPLOAD}
    assert memory.load(now=then + MAX_AGE + timedelta(days=1)) == {}
    store.close()


@pytest.mark.anyio
async def test_the_second_night_starts_at_the_learned_rate(tmp_path: Path) -> None:
    manifest = write_pngs(tmp_path, [10] * 120)
    settings = fake_run_settings(tmp_path, upload_workers=16, batch_size=20)

    async def night() -> tuple[FakeMediaMagic, RunSummary]:
        clock = FakeClock()
        fake = FakeMediaMagic(clock, processing_seconds=1.0, latency=0.04)
        fake.rate_limit("upload", 10.0, burst=10.0, retry_after=30.0)
        async with clock.autojump():
            summary = await run_batch(
                manifest, settings, clock=clock, transports=Transports(fake, fake.blob)
            )
        assert [line["status"] for line in report_lines(tmp_path)] == ["complete"] * 120
        assert fake.violations == []
        return fake, summary

    first, summary = await night()
    assert first.rate_limited["upload"] >= 1  # learned from a 429, the only way the first time
    text = summary.render()
    assert "upload bucket: settled at" in text
    assert "submission_read bucket: paced at" in text  # the upload bucket's rate, borrowed
    assert "webhook_write bucket" not in text  # paced too, but nothing was sent there
    second, summary = await night()
    assert second.rate_limited["upload"] == 0
    assert summary.pacing is not None
    pacing = summary.pacing["upload"]
    assert pacing["remembered"] is not None and 9.0 <= pacing["remembered"] <= 10.0
    assert "upload bucket: started at" in summary.render()
