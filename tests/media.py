"""Small media files with real magic numbers, made on the fly (nothing large is committed)."""

from __future__ import annotations

import hashlib
from pathlib import Path

MAGIC = {
    ".png": b"\x89PNG\r\n\x1a\n",
    ".pdf": b"%PDF-1.7\n",
    ".mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
    ".mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00",
    ".jpg": b"\xff\xd8\xff\xe0",
    ".gif": b"GIF89a",
}


def fill(n: int, seed: str) -> bytes:
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:n])


def media_bytes(suffix: str, size: int, seed: str = "", marker: bytes = b"") -> bytes:
    if suffix == ".txt":
        body = (f"Offer {seed}: prices from £9.99 ".encode() * (size // 20 + 1))[
            : size - len(marker)
        ]
        return marker + body
    head = MAGIC[suffix] + marker
    return head + fill(max(0, size - len(head)), seed or suffix)


def write_media(
    folder: Path, name: str, size: int = 4000, seed: str = "", marker: bytes = b""
) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(media_bytes(path.suffix, size, seed or name, marker))
    return path


def write_manifest(folder: Path, rows: list[dict[str, str]], name: str = "manifest.csv") -> Path:
    import csv

    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    path = folder / name
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path
