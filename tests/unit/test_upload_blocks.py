from __future__ import annotations

import base64

import pytest

from batcher.blob.blocks import MAX_BLOCKS, BlockPlan, MiB, block_id, plan_blocks

B = 8 * MiB


def plan(size: int, block: int = B, single: int = B) -> BlockPlan:
    return plan_blocks(size, block_size=block, single_put_max=single)


def test_zero_byte_file_is_one_put_blob() -> None:
    p = plan(0, single=0)
    assert p.single_put
    assert p.blocks() == []


def test_file_at_single_put_max_is_one_put_blob() -> None:
    assert plan(B).single_put
    assert not plan(B + 1).single_put


def test_one_byte_over_a_block_gives_a_one_byte_tail() -> None:
    blocks = plan(B + 1, single=0).blocks()
    assert [b.length for b in blocks] == [B, 1]
    assert blocks[1].offset == B


def test_exactly_one_block_has_no_empty_tail() -> None:
    assert [b.length for b in plan(B, single=0).blocks()] == [B]


def test_exactly_n_blocks() -> None:
    blocks = plan(5 * B, single=0).blocks()
    assert [b.length for b in blocks] == [B] * 5
    assert [b.offset for b in blocks] == [i * B for i in range(5)]
    assert sum(b.length for b in blocks) == 5 * B


def test_five_gb_with_small_blocks_grows_in_whole_mib_to_fit_50000() -> None:
    size = 5 * 1024**3 + 7
    p = plan(size, block=64 * 1024, single=0)  # 81,921 blocks of 64 KiB: too many
    assert p.block_size % MiB == 0
    assert p.count <= MAX_BLOCKS
    assert p.block_size == MiB  # the smallest whole MiB that fits
    assert sum(b.length for b in p.blocks()) == size


def test_default_blocks_grow_only_past_50000_blocks() -> None:
    assert plan(MAX_BLOCKS * B).block_size == B
    grown = plan(MAX_BLOCKS * B + 1)
    assert grown.block_size == 9 * MiB
    assert grown.count <= MAX_BLOCKS


def test_file_too_large_for_azure_is_refused() -> None:
    with pytest.raises(ValueError, match="50,000 blocks"):
        plan(MAX_BLOCKS * 4000 * MiB + 1)


def test_block_ids_are_deterministic_and_equal_length() -> None:
    p = plan(3 * B, single=0)
    first = [block_id("blob/a.mp4|3|99", p, i) for i in range(p.count)]
    again = [block_id("blob/a.mp4|3|99", p, i) for i in range(p.count)]
    assert first == again
    assert len(set(first)) == 3
    ids_far = [block_id("k", p, i) for i in (0, 9, 10_000, 49_999)]
    assert len({len(x) for x in first + ids_far}) == 1
    assert all(len(base64.b64decode(x)) <= 64 for x in first)


def test_block_ids_change_with_key_and_block_size() -> None:
    p8 = plan(3 * B, single=0)
    p4 = plan(3 * B, block=4 * MiB, single=0)
    assert block_id("k1", p8, 0) != block_id("k2", p8, 0)
    assert block_id("k1", p8, 0) != block_id("k1", p4, 0)
