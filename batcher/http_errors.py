"""The ONE place where aiohttp's and the socket layer's exceptions become batcher errors, for
every host batcher talks to (the API and the blob storage alike). How an *answer's status*
maps to an error stays per service: ``batcher.api.errors_map`` and ``batcher.blob.errors``.

Model: httpx's ``map_httpcore_exceptions``. Rules, the same for both hosts:

* the connection never opened (refused, DNS): ``TransportError(ambiguous=False)``: the request
  had no effect, so even a non-idempotent one may be sent again;
* a TLS certificate was rejected: not retryable (it will be as bad next time);
* the connection dropped after sending, a cut answer, a reset: ``TransportError`` (ambiguous);
* no connection in time: ``RequestTimeoutError(ambiguous=False)`` (nothing was sent);
* no answer in time: ``RequestTimeoutError`` (ambiguous).

Errors are raised ``from None``: the foreign exception's text may echo a URL with a SAS
signature, and a chained traceback would print it. The message keeps what matters (what,
where, the failure's type) and goes through ``scrub``.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import aiohttp

from batcher.errors import RequestTimeoutError, TransportError

_MAX_DETAIL = 300


def parse_retry_after(value: str | None, *, now_wall: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds (what the API documents)
    or an HTTP date (RFC 9110 allows it, and Azure may send one). None if absent or unusable.
    ``now_wall`` (epoch seconds) is needed only for the date form."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is not a wait
    if now_wall is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now_wall)


@contextmanager
def translate_transport_errors(what: str, scrub: Callable[[str], str]) -> Iterator[None]:
    """Map one request's aiohttp / socket failures. ``what`` names the request for the
    message (already safe to print); ``scrub`` removes secrets from foreign texts."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError:
        # aiohttp raises this for any timeout before the connection is made: nothing sent.
        raise RequestTimeoutError(f"{what}: cannot connect (timed out)", ambiguous=False) from None
    except (TimeoutError, aiohttp.ServerTimeoutError):
        raise RequestTimeoutError(f"{what}: no answer within the request timeout") from None
    except aiohttp.ClientConnectorCertificateError as exc:
        error = TransportError(
            scrub(f"{what}: TLS certificate rejected: {exc}")[: _MAX_DETAIL * 2], ambiguous=False
        )
        error.retryable = False
        raise error from None
    except aiohttp.ClientConnectorError as exc:
        reason = exc.strerror or type(exc.os_error).__name__
        raise TransportError(scrub(f"{what}: cannot connect ({reason})"), ambiguous=False) from None
    except aiohttp.InvalidURL:
        error = TransportError(f"{what}: invalid URL", ambiguous=False)
        error.retryable = False
        raise error from None
    except aiohttp.ClientPayloadError as exc:
        raise TransportError(f"{what}: truncated answer ({type(exc).__name__})") from None
    except aiohttp.ClientResponseError as exc:
        raise TransportError(f"{what}: bad answer (HTTP {exc.status})") from None
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        raise TransportError(f"{what}: connection lost ({type(exc).__name__})") from None
    except (aiohttp.ClientError, ConnectionError) as exc:
        detail = scrub(str(exc))
        # Scrub first, then cut: a cut before redaction can leave part of a secret behind.
        suffix = f": {detail[:_MAX_DETAIL]}" if detail else ""
        raise TransportError(f"{what}: {type(exc).__name__}{suffix}") from None
