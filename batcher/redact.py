"""Keep secrets out of anything a person or a log can read.

Two layers:

* the *shapes* every secret of a kind has: a SAS URL's ``sig`` query parameter, and API keys
  that look like ``sk_live_…`` / ``sk_test_…`` (``redact``, ``redact_url``: usable anywhere,
  even before the run's key is known);
* the run's *own* secrets, by value (``Redactor``): the configured key may have any shape,
  and a service that echoes it in an error body must not get it printed. A ``Redactor`` is
  built from the run's settings and passed down to what turns foreign texts into messages
  (the API client and its error mapping, the report writer, the log file, the CLI); there
  is no global registry.

Texts that came from the network are untrusted: ``Redactor.untrusted`` also removes control
characters and ANSI escape sequences (a hostile answer must not drive the terminal), and
cuts only *after* redacting, so a cut can never leave part of a secret behind.

Webhook signing secrets (``whsec_…``) are a shape too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from pydantic import SecretStr

REDACTED = "REDACTED"
# Neither pattern crosses a backslash: in JSON text (report lines, log lines) it starts an
# escape, and eating it would break the line.
_SIG = re.compile(r"(?i)([?&]sig=)[^&#\s\"'<>\\]*")
# Up to the next space, quote or bracket: a key may contain '.', and a sentence's full stop
# after it is a small price for never leaving a tail behind.
_KEY = re.compile(r"\bsk_(live|test)_[^\s\"'<>()\[\]{},;\\]+")
# ANSI CSI / OSC sequences, then any other C0/C1 control character but tab and newline.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MIN_SECRET = 4
"""Shorter values are not redacted by value (they would blank ordinary words)."""
# Webhook signing secrets (E10): ``whsec_`` + base64 (standard or url-safe alphabet).
_WHSEC = re.compile(r"\bwhsec_[A-Za-z0-9+/=_\-]+")


def redact_url(url: str) -> str:
    """``https://a/b?sv=..&sig=abc`` → ``https://a/b?sv=..&sig=REDACTED``."""
    # The plain test first: the regex costs ~50x more, and most texts (every report line
    # goes through here) hold no signature at all.
    if "sig=" not in url.lower():
        return url
    return _SIG.sub(r"\1" + REDACTED, url)


def redact(text: str) -> str:
    """Redact SAS signatures and API-key- and webhook-secret-shaped words anywhere in free text."""
    text = redact_url(text)
    if "whsec_" in text:
        text = _WHSEC.sub(f"whsec_{REDACTED}", text)
    if "sk_" not in text:
        return text
    return _KEY.sub(lambda m: f"sk_{m.group(1)}_{REDACTED}", text)


def strip_control(text: str) -> str:
    """Remove ANSI escapes and control characters (keeps tab and newline)."""
    return _CONTROL.sub("", _ANSI.sub("", text))


def _forms(secret: str) -> set[str]:
    """The ways a value shows up in text we print: as is, URL-encoded, JSON-escaped."""
    return {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}


@dataclass(frozen=True)
class Redactor:
    """Redacts the shapes (``redact``) and, by value, the run's own secrets."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, *values: SecretStr | str | None) -> Redactor:
        found: set[str] = set()
        for value in values:
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if text and len(text.strip()) >= MIN_SECRET:
                found |= {form for form in _forms(text.strip()) if len(form) >= MIN_SECRET}
        # Longest first: a secret that contains another is replaced whole.
        return cls(tuple(sorted(found, key=len, reverse=True)))

    def with_secrets(self, values: Iterable[SecretStr | str | None]) -> Redactor:
        return Redactor.of(*self.secrets, *values)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return redact(text)

    def untrusted(self, text: str, limit: int | None = None) -> str:
        """A text from the network: secrets out, control characters out, then cut."""
        clean = strip_control(self(text))
        if limit is not None and len(clean) > limit:
            clean = clean[:limit] + "…"
        return clean
