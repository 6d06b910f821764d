"""Each option's default is defined once, in Settings: the command line with no options gives
exactly the library's defaults."""

from __future__ import annotations

import pytest

from batcher.cli.layers import parse_main
from batcher.cli.settings import settings_from
from batcher.config import PollSettings, Settings

FIELDS = [
    name
    for name in Settings.model_fields
    if name not in ("api_key", "base_url", "report_path", "journal_path", "poll", "webhooks")
]


@pytest.mark.parametrize("name", FIELDS)
def test_a_run_with_no_options_has_the_settings_defaults(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDIAMAGIC_API_KEY", raising=False)
    cli = settings_from(parse_main(["m.csv"], environ={}))
    assert getattr(cli, name) == getattr(Settings(), name)


def test_polling_defaults_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIAMAGIC_API_KEY", raising=False)
    assert settings_from(parse_main(["m.csv"], environ={})).poll == PollSettings()
