from __future__ import annotations

import pytest

from batcher.api.errors_map import error_for_status
from batcher.errors import (
    ApiError,
    AuthenticationError,
    PlanError,
    RateLimitedError,
    ServerError,
)
from batcher.http_errors import parse_retry_after


@pytest.mark.parametrize(
    "message",
    [
        "Missing X-API-Key header",
        "Invalid API key",
        "This API key has expired",
        "This API key has been revoked",
    ],
)
def test_every_401_is_fatal_and_keeps_the_message(message: str) -> None:
    err = error_for_status(401, f'{{"detail": "{message}"}}', {})
    assert isinstance(err, AuthenticationError)
    assert message in err.message


def test_402_is_fatal_with_the_plan_message() -> None:
    body = (
        '{"error_code": "tier_not_authorized_for_integrations_api", "message": '
        '"Your plan does not include access to the Integrations API.", "bucket": "upload"}'
    )
    err = error_for_status(402, body, {})
    assert isinstance(err, PlanError)
    assert "Your plan does not include" in err.message


def test_429_carries_retry_after() -> None:
    err = error_for_status(429, '{"error": "Rate limit exceeded"}', {"Retry-After": "30"})
    assert isinstance(err, RateLimitedError)
    assert err.retry_after == 30
    assert err.retryable


@pytest.mark.parametrize("status", [500, 502])
def test_500_and_502_are_retryable(status: int) -> None:
    err = error_for_status(status, '{"detail": "storage error"}', {})
    assert isinstance(err, ServerError)
    assert err.retryable


@pytest.mark.parametrize(
    ("status", "detail", "code"),
    [
        (409, "Asset already submitted", "already_submitted"),
        (403, "Invalid blob path", "invalid_blob_path"),
        (404, "Previous submission not found", "not_found"),
        (413, "Blob exceeds the video cap", "too_large"),
        (415, "Content does not match declared type", "unsupported_media_type"),
    ],
)
def test_refusals_are_row_errors_not_retried(status: int, detail: str, code: str) -> None:
    err = error_for_status(status, f'{{"detail": "{detail}"}}', {})
    assert isinstance(err, ApiError)
    assert not err.retryable
    assert err.code == code
    assert err.http_status == status


def test_422_envelope_is_flattened_into_the_message() -> None:
    body = (
        '{"detail": [{"loc": ["body", "assets", 0, "filename"], '
        '"msg": "extra fields not permitted", "type": "x"}]}'
    )
    err = error_for_status(422, body, {})
    assert "body.assets.0.filename: extra fields not permitted" in err.message  # type: ignore[attr-defined]


def test_non_json_bodies_do_not_break_translation() -> None:
    err = error_for_status(502, "<html>Bad gateway</html>", {})
    assert isinstance(err, ServerError)
    assert "Bad gateway" in err.message


def test_retry_after_parsing() -> None:
    assert parse_retry_after("5") == 5
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
