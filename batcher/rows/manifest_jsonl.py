"""JSON Lines manifests: one object per line; every non-blank line is one row.

A line that is not a usable object is that row's ``bad_json`` error: invalid JSON, nesting
deeper than Python can parse (``RecursionError``), a number too long to convert, a key
given twice in one object (``json`` would silently keep the last), or not an object.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from batcher.errors import InputError
from batcher.rows.encoding import LineSource, marked_bytes, shown
from batcher.rows.record import ManifestRow, error_row, make_row

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
"""What a lone surrogate looks like in JSON text (the line's raw bytes were clean)."""


class _DuplicateKey(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _parse(text: str) -> tuple[Any, str | None]:
    try:
        return json.loads(text, object_pairs_hook=_unique), None
    except _DuplicateKey as exc:
        return None, f"key {shown(str(exc.args[0]))!r} is given twice"
    except RecursionError:
        return None, "nested too deeply"
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        return None, f"not valid JSON: {shown(str(exc))}"


def jsonl_rows(lines: LineSource, codec: str) -> Iterator[ManifestRow]:
    n = 0
    for line in lines:
        if not line.text.strip():
            continue
        n += 1
        at = f"line {line.number}"
        if line.too_long:
            problem = InputError(f"{at} is longer than the limit", code="field_too_large")
            yield error_row(n, problem)
            continue
        bad = marked_bytes(line.text)
        if bad:
            problem = InputError(
                f"{at} is not valid {codec} (byte(s) {bad}); if the whole manifest is in "
                "another encoding, give --manifest-encoding (e.g. latin-1)",
                code="bad_encoding",
            )
            yield error_row(n, problem)
            continue
        record, reason = _parse(line.text)
        if reason is None and not isinstance(record, dict):
            reason = "a JSON Lines row must be an object"
        if reason is not None:
            yield error_row(n, InputError(f"{at}: {reason}", code="bad_json"))
            continue
        suspect = _SURROGATE_ESCAPE.search(line.text) is not None
        yield make_row(n, record, where=at, codec=codec, suspect=suspect)
