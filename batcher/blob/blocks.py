"""How a file is cut into blocks, and what each block is called.

Azure limits: at most 50,000 blocks per blob, at most 4000 MiB per block, block ids of one
blob all the same length (else 400 InvalidBlobOrBlock), at most 64 bytes before base64.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

MiB = 1 << 20
MAX_BLOCKS = 50_000
MAX_BLOCK_SIZE = 4000 * MiB


@dataclass(frozen=True)
class Block:
    index: int
    offset: int
    length: int


@dataclass(frozen=True)
class BlockPlan:
    file_size: int
    block_size: int
    """0 when the file goes up as one Put Blob."""

    @property
    def single_put(self) -> bool:
        return self.block_size == 0

    @property
    def count(self) -> int:
        if self.single_put:
            return 0
        return -(-self.file_size // self.block_size)

    def blocks(self) -> list[Block]:
        out: list[Block] = []
        for index in range(self.count):
            offset = index * self.block_size
            # The ceiling division in ``count`` means the tail is never empty.
            out.append(Block(index, offset, min(self.block_size, self.file_size - offset)))
        return out


def plan_blocks(file_size: int, *, block_size: int, single_put_max: int) -> BlockPlan:
    """Files up to ``single_put_max`` (and every 0-byte file) go up in one Put Blob; larger
    ones in ``block_size`` blocks, grown in whole MiB only when 50,000 blocks would not do."""
    if file_size < 0 or block_size <= 0:
        raise ValueError("file_size must be >= 0 and block_size > 0")
    if file_size == 0 or file_size <= single_put_max:
        return BlockPlan(file_size=file_size, block_size=0)
    size = block_size
    if -(-file_size // size) > MAX_BLOCKS:
        needed = -(-file_size // MAX_BLOCKS)
        size = -(-needed // MiB) * MiB
    if size > MAX_BLOCK_SIZE:
        raise ValueError(f"{file_size} bytes exceed what 50,000 blocks of 4000 MiB can hold")
    return BlockPlan(file_size=file_size, block_size=size)


def block_id(key: str, plan: BlockPlan, index: int) -> str:
    """Deterministic, fixed-length id: the same file (``key``), cut the same way, gets the same
    ids in every run, which is what makes block-level resume possible. The plan's block size
    is part of the digest so a run with another block size never reuses a stale block."""
    digest = hashlib.sha256(f"{key}\n{plan.block_size}".encode()).hexdigest()[:24]
    raw = f"{digest}-{index:06d}"  # 31 ASCII bytes for every index < 1,000,000
    return base64.b64encode(raw.encode("ascii")).decode("ascii")
