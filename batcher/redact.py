"""Keep secrets out of anything a person or a log can read.

SAS URLs carry their credential in the ``sig`` query parameter; API keys look like
``sk_live_…`` / ``sk_test_…``; webhook secrets ``whsec_…``. Every place that prints a URL or
an error message goes through ``redact``.
"""

from __future__ import annotations

import re

_SIG = re.compile(r"(?i)([?&]sig=)[^&#\s\"'<>]*")
_KEY = re.compile(r"\bsk_(live|test)_[A-Za-z0-9_\-]+")
# Webhook signing secrets (E10): ``whsec_`` + base64 (standard or url-safe alphabet).
_WHSEC = re.compile(r"\bwhsec_[A-Za-z0-9+/=_\-]+")


def redact_url(url: str) -> str:
    """``https://a/b?sv=..&sig=abc`` → ``https://a/b?sv=..&sig=REDACTED``."""
    return _SIG.sub(r"\1REDACTED", url)


def redact(text: str) -> str:
    """Redact SAS signatures, API keys and webhook secrets anywhere in free text."""
    text = _WHSEC.sub("whsec_REDACTED", text)
    return _KEY.sub(lambda m: f"sk_{m.group(1)}_REDACTED", redact_url(text))
