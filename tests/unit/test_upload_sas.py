from __future__ import annotations

import pytest

from batcher.blob.sas import SasGrant, SasKeeper, should_refresh, with_params

SAS = "https://acct.blob.core.windows.net/c/b.mp4?sv=2025-11-05&sr=b&sp=cw&sig=ab%2Bc%2F%3D"


def test_grant_repr_and_str_hide_the_signature() -> None:
    grant = SasGrant(url=SAS, expires_at=5.0)
    for text in (repr(grant), str(grant), f"{grant}"):
        assert "ab%2Bc" not in text
        assert "sig=REDACTED" in text


def test_with_params_keeps_the_token_byte_exact() -> None:
    url = with_params(SAS, comp="block", blockid="YWJj+/==")
    assert str(url) == SAS + "&comp=block&blockid=YWJj%2B%2F%3D%3D"
    assert url.raw_query_string.count("sig=ab%2Bc%2F%3D") == 1


def test_with_params_on_a_url_without_query() -> None:
    assert str(with_params("http://h/c/b", comp="block")) == "http://h/c/b?comp=block"


@pytest.mark.parametrize(
    ("obtained", "expires", "now", "due"),
    [
        (0.0, 3600.0, 3000.0, False),  # 10 min left, margin 5 min
        (0.0, 3600.0, 3300.0, True),  # exactly at the margin
        (0.0, 2.0, 0.5, False),  # short grant: half-life rule, not the 300 s margin
        (0.0, 2.0, 1.0, True),
        (10.0, 5.0, 11.0, False),  # arrived already expired: the service's 403 decides
    ],
)
def test_refresh_decision(obtained: float, expires: float, now: float, due: bool) -> None:
    grant = SasGrant(url=SAS, expires_at=expires)
    assert should_refresh(grant, obtained_at=obtained, now=now, margin=300.0) is due


@pytest.mark.anyio
async def test_keeper_coalesces_refreshes_of_one_generation() -> None:
    calls: list[bool] = []

    async def source(*, refresh: bool) -> SasGrant:
        calls.append(refresh)
        return SasGrant(url=f"{SAS}{len(calls)}", expires_at=1e12)

    keeper = SasKeeper(source, margin=300.0, wall=lambda: 0.0)
    grant, gen = await keeper.current()
    await keeper.expired(gen)
    await keeper.expired(gen)  # a second block saw the same old grant fail
    fresh, gen2 = await keeper.current()
    assert calls == [False, True]
    assert gen2 == gen + 1
    assert fresh != grant
    assert keeper.refreshes == 1
