"""--shard K/N: parsing, a partition of the rows, stable keys, and shard runs that merge."""

from __future__ import annotations

from pathlib import Path

import pytest

from batcher.cli.layers import parse_main
from batcher.cli.settings import settings_from
from batcher.errors import UsageError
from batcher.rows.manifest import ManifestRow, read_manifest
from batcher.scale.shard import Shard, row_key, shard_of


def _row(n: int, path: str) -> ManifestRow:
    return ManifestRow(
        row=n, path_text=path, content_type=None, previous_submission_id=None, columns={}
    )


def test_parse_accepts_k_of_n_from_zero() -> None:
    assert Shard.parse("0/3") == Shard(index=0, count=3)
    assert Shard.parse(" 2 / 3 ") == Shard(index=2, count=3)
    assert str(Shard.parse("1/4")) == "1/4"


@pytest.mark.parametrize("text", ["3/3", "1", "a/b", "-1/3", "0/0", "1/2/3", ""])
def test_parse_refuses_what_is_not_a_shard(text: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        Shard.parse(text)


def test_every_row_is_in_exactly_one_shard() -> None:
    rows = [_row(i, f"media/file-{i}.png") for i in range(1, 301)]
    taken = [[r.row for r in rows if Shard(index=k, count=3).takes(r)] for k in range(3)]
    assert sorted(row for rows_of_one in taken for row in rows_of_one) == list(range(1, 301))
    assert all(len(t) > 60 for t in taken)  # roughly even, not all in one


def test_the_key_is_stable_across_processes_and_spellings() -> None:
    # A fixed value: Python's hash() changes per process, BLAKE2b does not. Were the hash to
    # change between versions, shards of one run on two versions would overlap.
    assert shard_of("media/a.png", 1000) == 369
    assert row_key(_row(1, "./media//a.png")) == row_key(_row(2, "media/a.png"))
    assert row_key(_row(1, "")) == ""


def test_the_option_and_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    args = parse_main(["m.csv", "--shard", "1/2"], environ={})
    assert settings_from(args).shard == Shard(index=1, count=2)
    args = parse_main(["m.csv"], environ={"BATCHER_SHARD": "0/2"})
    assert settings_from(args).shard == Shard(index=0, count=2)
    args = parse_main(["m.csv", "--shard", "2/2"], environ={})
    with pytest.raises(UsageError):
        settings_from(args)


def test_a_manifest_splits_by_its_own_row_numbers(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("path\n" + "".join(f"f{i}.png\n" for i in range(20)))
    shard = Shard(index=1, count=2)
    kept = list(shard.filter(read_manifest(manifest)))
    assert kept and all(shard.takes(r) for r in kept)
    assert [r.path_text for r in kept] == [f"f{r.row - 1}.png" for r in kept]
