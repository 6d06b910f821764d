"""The ONE place where aiohttp exceptions and Azure Blob error answers become our errors.

Retry rules (every blob request we send is idempotent: Put Block / Put Blob / Put Block List
with the same content may be repeated safely):
  * 500, 502, 503, 504 (ServerBusy, OperationTimedOut, InternalError, gateways): retryable,
    honouring Retry-After.
  * 403 with AuthenticationFailed / AuthorizationFailure: ``BlobError.sas_expired``; the
    uploader refreshes the SAS instead of retrying blindly.
  * Md5Mismatch (Azurite: 400 InvalidOperation "Provided contentMD5 doesn't match."): the body
    was damaged on the way; ``BlobMd5MismatchError``, which the uploader re-reads and resends
    once. Not retryable by the generic Retrier: resending the same damaged buffer is pointless.
  * connection refused before sending: TransportError(ambiguous=False); resets, server
    disconnects, broken payloads: TransportError (ambiguous); no answer in time:
    RequestTimeoutError. All retryable. TLS certificate errors are not.
Messages never contain a SAS signature: URLs and foreign texts go through ``redact``.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import unquote

import aiohttp
import yarl

from batcher.errors import BlobError, RequestTimeoutError, TransportError
from batcher.redact import redact, redact_url

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
_CODE = re.compile(rb"<Code>\s*([^<]*?)\s*</Code>")
_MESSAGE = re.compile(rb"<Message>\s*([^<]*?)\s*</Message>", re.DOTALL)
_MAX_MESSAGE = 300
_SIG_VALUE = re.compile(r"(?i)[?&]sig=([^&#\s]*)")


class BlobMd5MismatchError(BlobError):
    """The service computed another MD5 than the Content-MD5 we sent."""

    code = "md5_mismatch"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


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
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:_MAX_MESSAGE]


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
        retry_after=parse_retry_after(headers.get("Retry-After")),
    )


@contextmanager
def translate_client_errors(op: str, url: str | yarl.URL) -> Iterator[None]:
    """Map aiohttp / socket failures of one request to TransportError and friends."""
    where = redact_url(str(url))
    try:
        yield
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise RequestTimeoutError(f"{op}: no answer in time ({where})") from exc
    except aiohttp.ClientConnectorCertificateError as exc:
        error = TransportError(
            scrub(f"{op}: TLS certificate rejected: {exc} ({where})", url), ambiguous=False
        )
        error.retryable = False  # a bad certificate will be just as bad next time
        raise error from exc
    except aiohttp.ClientConnectorError as exc:
        # The connection never opened, so the request cannot have had any effect.
        raise TransportError(
            scrub(f"{op}: cannot connect: {exc} ({where})", url), ambiguous=False
        ) from exc
    except aiohttp.InvalidURL as exc:
        raise BlobError(f"{op}: invalid blob URL ({where})", http_status=None) from exc
    except (aiohttp.ClientError, ConnectionError) as exc:
        reason = type(exc).__name__
        detail = scrub(str(exc), url)[:_MAX_MESSAGE]
        raise TransportError(f"{op}: {reason}: {detail} ({where})") from exc
