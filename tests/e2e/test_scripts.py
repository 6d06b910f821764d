"""scripts/test says what it needs for Chromium (Debian's apt-get, root) before doing anything."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "test"


def _bin(tmp_path: Path, *, uid: int, apt: bool) -> Path:
    """A PATH with only what the script's first lines use: no chromium."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname"):
        found = shutil.which(tool)
        assert found
        (bin_dir / tool).symlink_to(found)
    (bin_dir / "id").write_text(f"#!{shutil.which('bash')}\necho {uid}\n")
    (bin_dir / "id").chmod(0o755)
    if apt:
        (bin_dir / "apt-get").write_text(f"#!{shutil.which('bash')}\nexit 99\n")
        (bin_dir / "apt-get").chmod(0o755)
    return bin_dir


@pytest.mark.parametrize(
    ("uid", "apt", "says"),
    [(1000, True, "installing it needs root"), (0, False, "there is no apt-get (not Debian)")],
)
def test_missing_chromium_fails_early_with_what_it_needs(
    tmp_path: Path, uid: int, apt: bool, says: str
) -> None:
    env = {"PATH": str(_bin(tmp_path, uid=uid, apt=apt)), "HOME": str(tmp_path)}
    bash = shutil.which("bash")
    assert bash
    proc = subprocess.run(
        [bash, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and "BATCHER_SKIP_BROWSER=1" in proc.stderr
    assert proc.stdout == ""  # stopped before setting anything up
