from __future__ import annotations

import errno

import aiohttp
import pytest
from multidict import CIMultiDict

from batcher.blob.errors import error_from_response, translate_client_errors
from batcher.errors import BlobError, BlobMd5MismatchError, RequestTimeoutError, TransportError
from batcher.http_errors import parse_retry_after

URL = "https://acct.blob.core.windows.net/c/b?sv=1&sp=cw&sig=SECRETSIG"


def err(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> BlobError:
    return error_from_response("Put Block", URL, status, CIMultiDict(headers or {}), body)


@pytest.mark.parametrize("code", ["ServerBusy", "OperationTimedOut", "InternalError", ""])
@pytest.mark.parametrize("status", [500, 503])
def test_server_side_failures_are_retryable(status: int, code: str) -> None:
    e = err(status, {"x-ms-error-code": code} if code else {})
    assert e.retryable
    assert e.http_status == status
    assert e.azure_code == code


def test_retry_after_is_carried() -> None:
    assert err(503, {"Retry-After": "7"}).retry_after == 7.0


def test_http_date_retry_after() -> None:
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:30 GMT", now_wall=10.0) == 20.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_code_comes_from_xml_when_the_header_is_missing() -> None:
    body = (
        b"<?xml version='1.0'?><Error><Code>ServerBusy</Code>"
        b"<Message>busy\nRequestId:1</Message></Error>"
    )
    e = err(503, body=body)
    assert e.azure_code == "ServerBusy"
    assert "busy" in e.message
    assert "RequestId" not in e.message


@pytest.mark.parametrize("code", ["AuthenticationFailed", "AuthorizationFailure"])
def test_expired_sas_is_recognised_on_azure_and_azurite(code: str) -> None:
    e = err(403, {"x-ms-error-code": code})
    assert e.sas_expired
    assert not e.retryable


def test_permission_mismatch_is_not_expiry() -> None:
    assert not err(403, {"x-ms-error-code": "AuthorizationPermissionMismatch"}).sas_expired


def test_md5_mismatch_on_azure_and_azurite() -> None:
    azure = err(400, {"x-ms-error-code": "Md5Mismatch"})
    azurite = err(
        400,
        {"x-ms-error-code": "InvalidOperation"},
        b"<Error><Code>InvalidOperation</Code>"
        b"<Message>Provided contentMD5 doesn't match.</Message></Error>",
    )
    for e in (azure, azurite):
        assert isinstance(e, BlobMd5MismatchError)
        assert not e.retryable
    assert type(err(400, {"x-ms-error-code": "InvalidOperation"})) is BlobError


def test_messages_never_show_the_signature() -> None:
    e = err(400, body=b"<Error><Code>X</Code><Message>bad sig=SECRETSIG</Message></Error>")
    assert "SECRETSIG" not in e.message
    assert "sig=REDACTED" in e.message


def _raise(exc: BaseException) -> None:
    with translate_client_errors("Put Block", URL):
        raise exc


def test_timeouts_become_request_timeout() -> None:
    with pytest.raises(RequestTimeoutError) as info:
        _raise(TimeoutError())
    assert info.value.retryable
    assert "SECRETSIG" not in info.value.message


def test_server_disconnect_is_an_ambiguous_retryable_transport_error() -> None:
    with pytest.raises(TransportError) as info:
        _raise(aiohttp.ServerDisconnectedError())
    assert info.value.retryable
    assert info.value.ambiguous


def test_reset_is_a_transport_error() -> None:
    with pytest.raises(TransportError):
        _raise(aiohttp.ClientOSError(104, "Connection reset by peer"))


def test_refused_connection_is_not_ambiguous() -> None:
    key = aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None)
    exc = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))
    with pytest.raises(TransportError) as info:
        _raise(exc)
    assert info.value.retryable
    assert not info.value.ambiguous


def test_invalid_url_is_not_retryable_and_redacted() -> None:
    with pytest.raises(TransportError) as info:
        _raise(aiohttp.InvalidURL(URL))
    assert not info.value.retryable
    assert "SECRETSIG" not in info.value.message


def test_socket_errors_outside_aiohttp_are_transport_errors() -> None:
    with pytest.raises(TransportError):
        _raise(ConnectionResetError(errno.ECONNRESET, "reset"))
