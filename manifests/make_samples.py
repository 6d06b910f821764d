"""Write the sample media the example manifests point at (deterministic, no downloads).

The files carry real magic numbers so the service's content sniffing accepts them; one video
is over the 10 MB direct-upload cap so the quick start exercises the presigned block path.
Large files are generated rather than committed.

    python manifests/make_samples.py [--out manifests/samples]
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path


def pseudo_random(n: int, seed: str) -> bytes:
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block * 128  # 4 KiB per hash: fast enough for tens of MB
    return bytes(out[:n])


def mp4(n: int, seed: str) -> bytes:
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    return head + pseudo_random(n - len(head), seed)


def build() -> dict[str, bytes]:
    return {
        "spring-sale.png": b"\x89PNG\r\n\x1a\n" + pseudo_random(40_000, "png"),
        "brochure.pdf": b"%PDF-1.7\n" + pseudo_random(120_000, "pdf") + b"\n%%EOF\n",
        "radio-spot.mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00" + pseudo_random(300_000, "mp3"),
        "terms.txt": (
            "Prices from £9.99. Offer ends Sunday. Best value in the UK.\n" * 50
        ).encode(),
        "teaser.mp4": mp4(2_500_000, "teaser"),
        "flaky-upload.txt": b"MM-FLAKY: processing fails once, then succeeds after a retry\n",
        "tv-spot.mp4": mp4(24_000_000, "tv-spot"),
        "b/spring-sale.png": b"\x89PNG\r\n\x1a\n" + pseudo_random(30_000, "png-b"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "samples")
    args = parser.parse_args()
    for name, data in build().items():
        target = args.out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.stat().st_size != len(data):
            target.write_bytes(data)
    print(f"wrote {len(build())} sample files to {args.out}")


if __name__ == "__main__":
    main()
