"""The one transport translator: the API and the blob host get the same rules."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import aiohttp
import pytest

from batcher.api.errors_map import error_for_status, map_transport_errors
from batcher.blob.errors import translate_client_errors
from batcher.errors import (
    AlreadySubmittedError,
    ConflictError,
    RequestTimeoutError,
    TransportError,
)

SAS = "https://acct.blob.core.windows.net/c/b?sv=1&sp=cw&sig=SECRETSIG"
Translator = Callable[[], AbstractContextManager[None]]
HOSTS: dict[str, Translator] = {
    "api": lambda: map_transport_errors("POST /submissions"),
    "blob": lambda: translate_client_errors("Put Block", SAS),
}


def _cert_error() -> aiohttp.ClientConnectorCertificateError:
    key = aiohttp.client_reqrep.ConnectionKey("h", 443, True, True, None, None, None)
    return aiohttp.ClientConnectorCertificateError(key, OSError("certificate verify failed"))


def _refused() -> aiohttp.ClientConnectorError:
    key = aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))


@pytest.mark.parametrize("host", HOSTS)
def test_a_rejected_tls_certificate_is_not_retried_on_any_host(host: str) -> None:
    with pytest.raises(TransportError) as info, HOSTS[host]():
        raise _cert_error()
    assert not info.value.retryable
    assert not info.value.ambiguous
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("host", HOSTS)
def test_a_refused_connection_is_retryable_and_unambiguous_on_any_host(host: str) -> None:
    with pytest.raises(TransportError) as info, HOSTS[host]():
        raise _refused()
    assert info.value.retryable and not info.value.ambiguous


@pytest.mark.parametrize("host", HOSTS)
def test_a_dropped_connection_is_ambiguous_on_any_host(host: str) -> None:
    with pytest.raises(TransportError) as info, HOSTS[host]():
        raise aiohttp.ServerDisconnectedError()
    assert info.value.retryable and info.value.ambiguous


def test_no_foreign_exception_is_chained_so_no_url_can_leak_through_a_traceback() -> None:
    with pytest.raises(TransportError) as info, HOSTS["blob"]():
        raise aiohttp.ClientOSError(104, f"reset while sending to {SAS}")
    assert "SECRETSIG" not in info.value.message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_409s_are_classes_not_code_strings() -> None:
    already = error_for_status(409, '{"detail": "Asset already submitted"}', {})
    other = error_for_status(409, '{"detail": "A retry is already in progress"}', {})
    assert isinstance(already, AlreadySubmittedError) and already.code == "already_submitted"
    assert isinstance(other, ConflictError) and not isinstance(other, AlreadySubmittedError)
    assert other.code == "conflict"


@pytest.mark.parametrize("host", HOSTS)
def test_a_connect_timeout_is_not_ambiguous_but_a_read_timeout_is(host: str) -> None:
    with pytest.raises(RequestTimeoutError) as info, HOSTS[host]():
        raise aiohttp.ConnectionTimeoutError("Connection timeout to host")
    assert info.value.retryable and not info.value.ambiguous
    with pytest.raises(RequestTimeoutError) as info, HOSTS[host]():
        raise aiohttp.SocketTimeoutError("Timeout on reading data from socket")
    assert info.value.retryable and info.value.ambiguous
