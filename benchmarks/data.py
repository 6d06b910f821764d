"""Deterministic test data in ``benchmarks/.work/data`` (gitignored): the same command always
writes the same bytes, and a dataset already on disk with the right sizes is reused.

Every file starts with a real magic number for its extension (batcher's pre-flight refuses
bytes that plainly are another format), followed by seeded pseudo-random bytes (nothing
compresses). The multi-GB memory files are sparse after their header: their size is real,
their disk use is not.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import WORK, MiB

MAGIC = {
    ".png": b"\x89PNG\r\n\x1a\n",
    ".pdf": b"%PDF-1.7\n",
    ".mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
    ".jpg": b"\xff\xd8\xff\xe0",
    ".gif": b"GIF89a",
}
_CHUNK = 16 * MiB


@dataclass(frozen=True)
class Dataset:
    name: str
    folder: Path
    files: list[Path]
    total_bytes: int
    manifest: Path

    @property
    def count(self) -> int:
        return len(self.files)


def data_root() -> Path:
    return WORK / "data"


def write_file(path: Path, size: int, seed: str, *, sparse: bool = False) -> None:
    head = MAGIC[path.suffix]
    if path.exists() and path.stat().st_size == size:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(head)
        if sparse:
            fh.truncate(size)
        else:
            left = size - len(head)
            while left > 0:
                n = min(left, _CHUNK)
                fh.write(rng.randbytes(n))
                left -= n
    tmp.replace(path)


def write_manifest(path: Path, rel_paths: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["path"])
        for rel in rel_paths:
            w.writerow([rel])
    return path


def _dataset(name: str, specs: list[tuple[str, int, bool]]) -> Dataset:
    folder = data_root() / name
    files_dir = folder / "files"
    paths: list[Path] = []
    for rel, size, sparse in specs:
        path = files_dir / rel
        write_file(path, size, f"{name}/{rel}", sparse=sparse)
        paths.append(path)
    manifest = write_manifest(folder / "manifest.csv", [f"files/{rel}" for rel, _, _ in specs])
    (folder / "spec.json").write_text(json.dumps([list(s) for s in specs]))
    return Dataset(name, files_dir, paths, sum(s for _, s, _ in specs), manifest)


def large(count: int, size: int) -> Dataset:
    specs = [(f"big{i}.mp4", size, False) for i in range(count)]
    return _dataset(f"large-{count}x{size // MiB}M", specs)


def small(count: int, size: int = 100_000) -> Dataset:
    exts = [".png", ".jpg", ".gif", ".pdf"]
    specs = [(f"s{i:05d}{exts[i % len(exts)]}", size, False) for i in range(count)]
    return _dataset(f"small-{count}x{size}", specs)


def mixed(count: int, big_every: int = 100, big_size: int = 24 * MiB) -> Dataset:
    """Mostly small files of varied size and type; every ``big_every``-th one is presigned."""
    exts = [".png", ".jpg", ".pdf", ".gif", ".mp4"]
    rng = random.Random(f"mixed-{count}")
    specs: list[tuple[str, int, bool]] = []
    for i in range(count):
        if i % big_every == big_every - 1:
            specs.append((f"m{i:05d}.mp4", big_size, False))
        else:
            specs.append((f"m{i:05d}{exts[i % len(exts)]}", rng.randint(20_000, 400_000), False))
    return _dataset(f"mixed-{count}", specs)


def one_big(size: int, *, sparse: bool = True) -> Dataset:
    tag = f"{size / (1 << 30):g}G" if size >= 1 << 30 else f"{size // MiB}M"
    return _dataset(f"big-{tag}", [(f"huge-{tag}.mp4", size, sparse)])


def missing_rows(rows: int) -> Path:
    """A manifest of ``rows`` rows naming files that do not exist: each row is a quick
    pre-flight error and a report line, so memory against row count shows alone."""
    folder = data_root() / "rows"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"missing-{rows}.csv"
    if not path.exists():
        write_manifest(path, [f"nowhere/n{i:07d}.png" for i in range(rows)])
    return path
