"""Where option values come from: the command line, then ``BATCHER_<OPTION>``, then a TOML
config file, then the built-in default.

Values from the environment and the file are converted and checked here, so a bad one is
reported under its own name (``BATCHER_UPLOAD_WORKERS='abc' is not an integer``), never as
a bad flag the user did not type.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from batcher.cli.options import build_parser, env_name
from batcher.errors import UsageError

DEFAULT_CONFIG = Path("batcher.toml")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")
_TYPE_NAMES = {int: "an integer", float: "a number"}


def settable_options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Long option name (``upload-workers``) → its action, for every settable option."""
    found: dict[str, argparse.Action] = {}
    for action in parser._actions:
        longs = [s for s in action.option_strings if s.startswith("--")]
        if longs and action.dest not in ("help", "version", "config"):
            found[longs[0][2:]] = action
    return found


def _convert(action: argparse.Action, value: Any, where: str) -> Any:
    """``value`` (a string from the environment, or any TOML value) as the option takes it."""
    if isinstance(action, argparse._StoreTrueAction):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise UsageError(f"{where} is not on/off (use 1/true/yes or 0/false/no)")
    kind = action.type
    if isinstance(value, bool | list | dict):
        raise UsageError(f"{where} is not a single value")
    if kind is int and isinstance(value, float):
        raise UsageError(f"{where} is not an integer")
    try:
        converted = kind(value) if callable(kind) else str(value)
    except (TypeError, ValueError):
        name = _TYPE_NAMES.get(kind, "a valid value") if isinstance(kind, type) else "valid"
        raise UsageError(f"{where} is not {name}") from None
    if action.choices is not None and converted not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise UsageError(f"{where} is not one of {choices}")
    return converted


def config_path(argv: Sequence[str], environ: Mapping[str, str]) -> Path | None:
    """The config file to read: ./batcher.toml only if it exists; a file named with
    --config or BATCHER_CONFIG must exist."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", type=Path)
    known, _ = pre.parse_known_args(list(argv))
    if known.config is not None:
        return Path(known.config)
    if environ.get(env_name("config")):
        return Path(environ[env_name("config")])
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def read_config(path: Path, options: dict[str, argparse.Action]) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read the config file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"the config file {path} is not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("_", "-")
        action = options.get(name)
        if action is None:
            raise UsageError(f"{path}: unknown setting {key!r} (keys are the option names)")
        values[action.dest] = _convert(action, value, f"{path}: {key} = {value!r}")
    return values


def layered_defaults(
    parser: argparse.ArgumentParser, argv: Sequence[str], environ: Mapping[str, str]
) -> dict[str, Any]:
    options = settable_options(parser)
    path = config_path(argv, environ)
    values = read_config(path, options) if path is not None else {}
    for name, action in options.items():
        variable = env_name(name)
        if variable in environ:
            text = environ[variable]
            values[action.dest] = _convert(action, text, f"{variable}={text!r}")
    return values


def parse_main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> argparse.Namespace:
    """The main command's arguments with every layer applied."""
    parser = build_parser()
    if not {"-h", "--help", "--version"} & set(argv):  # help works whatever the settings
        environ = os.environ if environ is None else environ
        parser.set_defaults(**layered_defaults(parser, argv, environ))
    return parser.parse_args(list(argv))
