"""Every option of every command is in the README (as sqlite-utils' tests/test_docs.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from batcher.cli import manifest_cmd, merge_cmd, ray_cmd, report_cmd
from batcher.cli.layers import read_config
from batcher.cli.layers import settable_options as settable
from batcher.cli.options import build_parser

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def _options(parser: object, *, skip: tuple[str, ...] = ("--help",)) -> list[str]:
    flags = []
    for action in parser._actions:  # type: ignore[attr-defined]
        longs = [s for s in action.option_strings if s.startswith("--") and s not in skip]
        flags += longs[:1]
    return flags


def test_version_is_documented() -> None:
    assert "`--version`" in README and "batcher --version" in README


@pytest.mark.parametrize("flag", _options(build_parser(), skip=("--help", "--version")))
def test_main_option_is_documented_with_its_env_var(flag: str) -> None:
    assert f"`{flag}" in README, f"{flag} missing from README"
    env = "BATCHER_" + flag.lstrip("-").upper().replace("-", "_")
    help_text = next(a.help for a in build_parser()._actions if flag in a.option_strings)
    assert help_text is not None and env in help_text


@pytest.mark.parametrize(
    "flag",
    _options(report_cmd.build_parser())
    + _options(manifest_cmd.build_parser())
    + _options(merge_cmd.build_parser())
    + _options(ray_cmd.pre_parser()),
)
def test_subcommand_option_is_documented(flag: str) -> None:
    assert re.search(rf"`{re.escape(flag)}\b", README), f"{flag} missing from README"


def test_readme_config_example_is_a_valid_config_file(tmp_path: Path) -> None:
    block = re.search(r"```toml\n# batcher.toml\n(.*?)```", README, re.S)
    assert block, "README has no batcher.toml example"
    path = tmp_path / "batcher.toml"
    path.write_text(block.group(1), encoding="utf-8")
    values = read_config(path, settable(build_parser()))
    assert values["upload_workers"] == 16 and values["log_level"] == "NOTICE"


def test_readme_documents_the_library_api() -> None:
    for needle in ("## Library use", "on_row=", "stream_batch(", "outcomes.summary"):
        assert needle in README


def test_readme_says_what_the_browser_test_needs() -> None:
    assert "Debian" in README and "root" in README and "BATCHER_SKIP_BROWSER=1" in README
