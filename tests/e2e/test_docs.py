"""Every option of every command is in the README (as sqlite-utils' tests/test_docs.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from batcher.cli import manifest_cmd, merge_cmd, ray_cmd, report_cmd
from batcher.cli.options import build_parser

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def _options(parser: object) -> list[str]:
    flags = []
    for action in parser._actions:  # type: ignore[attr-defined]
        longs = [s for s in action.option_strings if s.startswith("--") and s != "--help"]
        flags += longs[:1]
    return flags


@pytest.mark.parametrize("flag", _options(build_parser()))
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
