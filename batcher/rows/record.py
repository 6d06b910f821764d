"""One manifest row (``ManifestRow``) and the checks every format shares.

Whatever the manifest said, a row leaves here with text that can be written as UTF-8 JSON
and printed: undecodable bytes and lone surrogates make it a ``bad_encoding`` error, control
characters in the path a ``bad_path`` error, and the offending text is shown escaped.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batcher.errors import InputError
from batcher.rows.encoding import SURROGATE, marked_bytes, shown, without_surrogates

REQUIRED = "path"
KNOWN = ("path", "content_type", "previous_submission_id")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class ManifestRow:
    row: int
    """1-based data row (the header and blank lines are not counted)."""
    path_text: str
    content_type: str | None
    previous_submission_id: str | None
    columns: dict[str, Any]
    problem: InputError | None = None

    def resolve(self, base: Path) -> Path:
        p = Path(self.path_text)
        if self.path_text.startswith("~/"):  # "~draft.png" is a file name, not a home dir
            with contextlib.suppress(RuntimeError):  # no home directory known
                p = p.expanduser()
        return p if p.is_absolute() else base / p


def error_row(n: int, problem: InputError, path_text: str = "") -> ManifestRow:
    return ManifestRow(n, shown(path_text, limit=200), None, None, {}, problem)


def _clean(value: Any) -> Any:
    """Deep copy of a JSON-ish value with lone surrogates escaped (keys too)."""
    if isinstance(value, str):
        return without_surrogates(value)
    if isinstance(value, dict):
        return {without_surrogates(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _surrogates_in(value: Any) -> str | None:
    if isinstance(value, str):
        m = SURROGATE.search(value)
        return None if m is None else m.group()
    if isinstance(value, dict):
        for k, v in value.items():
            found = _surrogates_in(str(k)) or _surrogates_in(v)
            if found:
                return found
    if isinstance(value, list):
        for v in value:
            found = _surrogates_in(v)
            if found:
                return found
    return None


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None


def make_row(
    n: int, record: dict[str, Any], *, where: str, codec: str, suspect: bool
) -> ManifestRow:
    """``record``: column → value; ``where``: "line 3" or "lines 3-5", for messages;
    ``suspect``: the raw text may hold surrogates (the deep search costs, so it is skipped
    when the caller's one search over the raw text found none)."""
    problem: InputError | None = None
    for k in KNOWN:
        if record.get(k) is not None and not isinstance(record[k], str):
            problem = InputError(f"{where}: {k!r} must be text", code="bad_row")
            break
    lone = _surrogates_in(record) if suspect else None
    if lone is not None:
        raw = marked_bytes(lone)
        reason = (
            f"{where} is not valid {codec} (byte(s) {raw}); if the whole manifest is in "
            "another encoding, give --manifest-encoding (e.g. latin-1)"
            if raw
            else f"{where}: a JSON string holds a lone surrogate {shown(lone)}"
        )
        problem = problem or InputError(reason, code="bad_encoding")
        record = _clean(record)
    path_text = _text(record.get("path")) or ""
    if problem is None and _CONTROL.search(path_text):
        problem = InputError(
            f"{where}: the path has a control character: {shown(path_text)}", code="bad_path"
        )
    if problem is None and not path_text:
        problem = InputError(f"{where}: empty 'path' value", code="missing_path")
    if problem is not None:
        path_text = shown(path_text, limit=len(path_text))
    return ManifestRow(
        row=n,
        path_text=path_text,
        content_type=_text(record.get("content_type")),
        previous_submission_id=_text(record.get("previous_submission_id")),
        columns={k: v for k, v in record.items() if k not in KNOWN},
        problem=problem,
    )


def where(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"
