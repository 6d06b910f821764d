from __future__ import annotations

import subprocess
import sys

import batcher


def test_exported_members_are_exactly_the_public_surface() -> None:
    public = {name for name in dir(batcher) if not name.startswith("_")}
    modules = {n for n in public if type(getattr(batcher, n)).__name__ == "module"}
    assert public - modules - {"annotations"} == set(batcher.__all__)
    assert all(getattr(batcher, name) is not None for name in batcher.__all__)


def test_client_code_never_imports_the_sandbox() -> None:
    code = (
        "import sys, batcher, batcher.cli, batcher.pipeline;"
        "print(sorted(m for m in sys.modules if m.startswith('batcher.sandbox')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
