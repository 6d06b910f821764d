"""API-key checks with the four documented 401 messages and the 402 plan-gating body.

Error bodies never echo the key, and the key itself is only used as a lookup value here and
(hashed) as the rate-limit identity.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from aiohttp import web

from batcher.sandbox.config import SandboxConfig
from batcher.sandbox.errors import ApiError

TEST_PREFIX = "sk_test_"
LIVE_PREFIX = "sk_live_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the workspace, whether the key is a sandbox key, and a key digest."""

    workspace_id: str
    is_test: bool
    key_id: str  # short digest, safe to keep in state and logs


def authenticate(request: web.Request, config: SandboxConfig, bucket: str) -> Principal:
    # aiohttp header lookup is case-insensitive, as HTTP requires; the docs' "case-sensitive"
    # remark is about spelling the name, which any HTTP server treats case-insensitively.
    key = request.headers.get("X-API-Key")
    if key is None or key == "":
        raise ApiError(401, "Missing X-API-Key header")
    if key in config.revoked_keys:
        raise ApiError(401, "This API key has been revoked")
    if key in config.expired_keys:
        raise ApiError(401, "This API key has expired")
    is_test = key.startswith(TEST_PREFIX)
    known = (
        key in config.test_keys
        or key in config.live_keys
        or key in config.unpaid_keys
        or (is_test and config.accept_any_test_key and len(key) > len(TEST_PREFIX))
    )
    if not known:
        raise ApiError(401, "Invalid API key")
    if key in config.unpaid_keys:
        raise ApiError(
            402,
            "",
            body={
                "error_code": "tier_not_authorized_for_integrations_api",
                "message": "Your plan does not include access to the Integrations API.",
                "bucket": bucket,
            },
        )
    workspace = config.key_workspaces.get(key, config.workspace_id)
    key_id = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Principal(workspace_id=workspace, is_test=is_test, key_id=key_id)
