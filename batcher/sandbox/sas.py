"""Service-SAS URLs for the sandbox's own blob endpoint, signed and checked like Azure's.

The signature is an HMAC-SHA256 with a per-sandbox secret over permissions, expiry,
canonical resource and version, so a client cannot reuse a token for another blob, stretch
its expiry or add permissions without the sandbox noticing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote

from batcher.sandbox.errors import BlobError, auth_failed

ACCOUNT = "devstoreaccount1"
CONTAINER = "assets"
BLOB_PREFIX = f"/blob/{ACCOUNT}/{CONTAINER}/"
SAS_VERSION = "2025-11-05"


def iso_z(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso_z(text: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()


def canonical_resource(blob_path: str) -> str:
    return f"/blob/{ACCOUNT}/{CONTAINER}/{blob_path}"


def _sign(secret: bytes, permissions: str, expiry: str, blob_path: str, version: str) -> str:
    to_sign = "\n".join([permissions, expiry, canonical_resource(blob_path), version])
    digest = hmac.new(secret, to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def make_upload_url(
    base_url: str, secret: bytes, blob_path: str, permissions: str, expires_at: float
) -> str:
    expiry = iso_z(expires_at)
    sig = _sign(secret, permissions, expiry, blob_path, SAS_VERSION)
    query = (
        f"sv={SAS_VERSION}&se={quote(expiry, safe='')}&sr=b"
        f"&sp={quote(permissions, safe='')}&sig={quote(sig, safe='')}"
    )
    return f"{base_url}{BLOB_PREFIX}{quote(blob_path, safe='/')}?{query}"


def _http_date(ts: float) -> str:
    return format_datetime(datetime.fromtimestamp(ts, UTC), usegmt=True)


def verify(secret: bytes, query: Mapping[str, str], blob_path: str, now: float) -> str:
    """Check a SAS query for ``blob_path``; return its permissions or raise a 403 BlobError."""
    sv, se, sr, sp, sig = (query.get(k) for k in ("sv", "se", "sr", "sp", "sig"))
    if not sv or not se or not sp or not sig or sr != "b":
        raise auth_failed("The specified signed resource is not allowed for this resource level")
    expected = _sign(secret, sp, se, blob_path, sv)
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        raise auth_failed(
            "Signature did not match. String to sign used was "
            f"{sp}\n{se}\n{canonical_resource(blob_path)}\n{sv}"
        )
    expiry = parse_iso_z(se)
    if expiry is None:
        raise auth_failed(f"Signed expiry time [{se}] is not a valid date")
    if now >= expiry:
        # Azure's wording: the request time stands in as the signed start.
        raise auth_failed(
            f"Signed expiry time [{_http_date(expiry)}] must be after signed start time "
            f"[{_http_date(now)}]"
        )
    return sp


def require_permission(permissions: str, needed: str) -> None:
    """At least one letter of ``needed`` must be granted."""
    if not any(p in permissions for p in needed):
        raise BlobError(
            403,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        )
