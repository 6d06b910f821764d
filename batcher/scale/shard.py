"""``--shard K/N``: a run that takes only the manifest rows whose key hashes to K of N.

The key is the row's path as written, normalised (``./a.png`` and ``a.png`` are one key), so
every host agrees on it whatever folder the manifest is mounted at; the hash is BLAKE2b, not
Python's per-process ``hash()``. Rows keep their manifest numbers, so shard reports merge by
row. Two rows that reach one file by different spellings (a symlink, an absolute and a
relative path) may land in different shards; each shard's duplicate check sees only its own.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field, model_validator

from batcher.errors import UsageError
from batcher.rows.manifest import ManifestRow
from batcher.state.store import JournalStore

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class Shard(BaseModel):
    """Shard ``index`` (0-based, like a Kubernetes ``JOB_COMPLETION_INDEX``) of ``count``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int = Field(ge=0)
    count: int = Field(ge=1, le=100_000)

    @model_validator(mode="after")
    def _index_below_count(self) -> Shard:
        if self.index >= self.count:
            raise ValueError(f"shard {self.index}/{self.count}: K counts from 0 to N-1")
        return self

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = _SPEC.match(text)
        if match is None:
            raise UsageError(f"--shard wants K/N (e.g. 0/3), not {text!r}")
        index, count = int(match[1]), int(match[2])
        if count < 1 or index >= count:
            raise UsageError(f"--shard {text}: K must be 0 to N-1 and N at least 1")
        return cls(index=index, count=count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def takes(self, row: ManifestRow) -> bool:
        return shard_of(row_key(row), self.count) == self.index

    def filter(self, rows: Iterator[ManifestRow]) -> Iterator[ManifestRow]:
        return (row for row in rows if self.takes(row))


def row_key(row: ManifestRow) -> str:
    """A row's stable identity for sharding: its normalised path text."""
    text = row.path_text
    return os.path.normpath(text) if text else ""


def shard_of(key: str, count: int) -> int:
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def bind_journal(store: JournalStore, shard: Shard | None) -> None:
    """Record which rows a journal covers; refuse to resume it as another shard (its rows
    would be replayed into the wrong report)."""
    wanted = "all" if shard is None else str(shard)
    recorded = store.meta("shard") or "all"
    if store.resumed and recorded != wanted:
        what = "a whole-manifest run" if recorded == "all" else f"shard {recorded}"
        raise UsageError(
            f"{store.path} is the journal of {what}, not of "
            f"{'the whole manifest' if shard is None else f'shard {wanted}'}; "
            "give each shard its own --report/--journal, or use --fresh"
        )
    store.set_meta("shard", wanted)
