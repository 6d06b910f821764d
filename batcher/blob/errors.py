"""How Azure Blob's error *answers* become our errors (transport failures go through the one
translator, ``batcher.http_errors``).

Retry rules (every blob request we send is idempotent: Put Block / Put Blob / Put Block List
with the same content may be repeated safely):
  * 500, 502, 503, 504 (ServerBusy, OperationTimedOut, InternalError, gateways): retryable,
    honouring Retry-After.
  * 403 with AuthenticationFailed / AuthorizationFailure: ``BlobError.sas_expired``; the
    uploader refreshes the SAS instead of retrying blindly.
  * Md5Mismatch (Azurite: 400 InvalidOperation "Provided contentMD5 doesn't match."): the body
    was damaged on the way; ``BlobMd5MismatchError``, which the uploader re-reads and resends
    once. Not retryable by the generic Retrier: resending the same damaged buffer is pointless.
  * transport failures: see ``batcher.http_errors`` (the same rules as for the API).
Messages never contain a SAS signature: URLs and foreign texts go through ``redact``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from urllib.parse import unquote

import yarl

from batcher.errors import BlobError, BlobMd5MismatchError
from batcher.http_errors import parse_retry_after, translate_transport_errors
from batcher.redact import redact, redact_url, strip_control

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
_CODE = re.compile(rb"<Code>\s*([^<]*?)\s*</Code>")
_MESSAGE = re.compile(rb"<Message>\s*([^<]*?)\s*</Message>", re.DOTALL)
_MAX_MESSAGE = 300
_SIG_VALUE = re.compile(r"(?i)[?&]sig=([^&#\s]*)")


def scrub(text: str, url: str | yarl.URL) -> str:
    """``redact`` plus: remove this URL's signature wherever a foreign text echoes it, quoted
    or not (``redact`` only knows the ``?sig=``/``&sig=`` form)."""
    out = redact(text)
    match = _SIG_VALUE.search(str(url))
    if match and match.group(1):
        for form in {match.group(1), unquote(match.group(1))}:
            out = out.replace(form, "REDACTED")
    return out


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def error_from_response(
    op: str, url: str | yarl.URL, status: int, headers: Mapping[str, str], body: bytes
) -> BlobError:
    """Turn an error answer into a BlobError (or its MD5 subclass)."""
    code = headers.get("x-ms-error-code", "")
    match = _CODE.search(body)
    if not code and match:
        code = match.group(1).decode("utf-8", "replace")
    found = _MESSAGE.search(body)
    detail = _first_line(found.group(1).decode("utf-8", "replace")) if found else ""
    # Scrub, clean, then cut: a cut first left part of an echoed signature behind.
    detail = strip_control(scrub(detail, url))[:_MAX_MESSAGE]
    code = strip_control(code)[:_MAX_MESSAGE]
    where = redact_url(str(url))
    text = f"{op} failed: HTTP {status}{' ' + code if code else ''}"
    if detail:
        text += f": {detail}"
    text = scrub(f"{text} ({where})", url)
    md5_bad = code == "Md5Mismatch" or (code == "InvalidOperation" and "md5" in detail.lower())
    cls = BlobMd5MismatchError if md5_bad else BlobError
    return cls(
        text,
        http_status=status,
        azure_code=code,
        retryable=status in RETRYABLE_STATUSES,
        # An HTTP-date Retry-After is absolute: compared with this machine's wall clock.
        retry_after=parse_retry_after(headers.get("Retry-After"), now_wall=time.time()),
    )


def translate_client_errors(op: str, url: str | yarl.URL) -> AbstractContextManager[None]:
    """This request's transport failures, through the one translator (``http_errors``)."""
    return translate_transport_errors(f"{op} ({redact_url(str(url))})", lambda t: scrub(t, url))
