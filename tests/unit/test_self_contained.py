"""The repository stands alone: sources and docs cite its own docs/, never outside papers."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUTSIDE = ("DESIGN.md", "PEERS.md", "../shared", "mediamagic-api.md", "quickstart.txt")


def test_no_tracked_file_cites_a_document_outside_the_repository() -> None:
    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    offenders = []
    for name in files:
        if not name.endswith((".py", ".md", ".toml", ".sh", ".yaml", ".yml")) or name in (
            "CHANGELOG.md",
            "tests/unit/test_self_contained.py",
        ):
            continue
        text = (REPO / name).read_text(encoding="utf-8", errors="replace")
        offenders += [f"{name}: {word}" for word in OUTSIDE if word in text]
    assert offenders == []


def test_the_docs_the_code_cites_exist() -> None:
    for doc in ("docs/api.md", "docs/blob.md", "docs/sandbox.md"):
        assert (REPO / doc).is_file(), doc
