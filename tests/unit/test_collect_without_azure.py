"""The unit tests need no azure-storage-blob (it is only for Azurite SAS signing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# sys.modules[name] = None makes every import of it fail, as on a machine without it.
SCRIPT = (
    "import sys; sys.modules['azure'] = None; import pytest; "
    "sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', 'tests/unit']))"
)


def test_unit_tests_collect_without_azure_storage_blob() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "error" not in done.stdout.lower().splitlines()[-1]
