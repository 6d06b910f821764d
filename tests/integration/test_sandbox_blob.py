"""The Azure Blob endpoint behind the SAS URLs: accepts what Azure accepts, refuses what
Azure refuses, with Azure's status codes, XML error bodies and x-ms-error-code headers."""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest

from batcher.sandbox import Sandbox, SandboxConfig
from tests.fixtures.sandbox import MakeSandbox, Reply, SandboxHttp, http_for, sample

pytestmark = pytest.mark.anyio

PDF = "application/pdf"


def with_params(sas_url: str, **params: str) -> str:
    return sas_url + "".join(f"&{k}={quote(v, safe='')}" for k, v in params.items())


def block_id(n: int, width: int = 8) -> str:
    return base64.b64encode(f"{n:0{width}d}".encode()).decode()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def block_list_xml(*entries: tuple[str, str]) -> bytes:
    inner = "".join(f"<{kind}>{bid}</{kind}>" for kind, bid in entries)
    return f'<?xml version="1.0" encoding="utf-8"?><BlockList>{inner}</BlockList>'.encode()


def assert_azure_error(reply: Reply, status: int, code: str) -> ET.Element:
    assert reply.status == status, reply.body
    assert reply.error_code == code
    root = ET.fromstring(reply.body)
    assert root.tag == "Error"
    assert root.findtext("Code") == code
    assert root.findtext("Message")
    return root


async def put_block(http: SandboxHttp, url: str, bid: str, data: bytes, **headers: str) -> Reply:
    return await http.request(
        "PUT", with_params(url, comp="block", blockid=bid), data=data, headers=headers
    )


async def commit(http: SandboxHttp, url: str, body: bytes) -> Reply:
    return await http.request(
        "PUT",
        with_params(url, comp="blocklist"),
        data=body,
        headers={"Content-Type": "application/xml"},
    )


@pytest.fixture
async def rcw(make_sandbox: MakeSandbox) -> AsyncIterator[tuple[Sandbox, SandboxHttp]]:
    config = SandboxConfig(sas_permissions="rcw", processing_delay=0.02)
    async with make_sandbox(config) as sb, http_for(sb) as http:
        yield sb, http


async def test_single_put_blob_stores_the_bytes_and_answers_like_azure(
    sandbox: Sandbox, sandbox_http: SandboxHttp
) -> None:
    grant = await sandbox_http.upload_url("one.pdf", PDF)
    data = sample(PDF, b"a" * 5000)
    reply = await sandbox_http.put_blob(grant["uploadUrl"], data, {"Content-MD5": md5_b64(data)})
    assert reply.status == 201
    assert reply.headers["Content-MD5"] == md5_b64(data)
    assert reply.headers["x-ms-request-server-encrypted"] == "true"
    for header in ("ETag", "Last-Modified", "x-ms-request-id", "x-ms-version"):
        assert reply.headers[header]
    stats = sandbox.state.blobs[grant["blobPath"]]
    assert stats.committed_size == len(data)
    assert stats.committed_md5 == md5_b64(data)
    assert stats.committed_sha256 == hashlib.sha256(data).hexdigest()
    assert stats.operations["blob_put_blob"] == 1


async def test_blocks_of_odd_sizes_commit_in_list_order(rcw: tuple[Sandbox, SandboxHttp]) -> None:
    sb, http = rcw
    grant = await http.upload_url("big.mp4", "video/mp4")
    url = grant["uploadUrl"]
    chunks = [sample("video/mp4", b"x" * 100), b"y" * 1, b"z" * 65_537, b"w" * 3]
    for i, chunk in enumerate(chunks):
        reply = await put_block(http, url, block_id(i), chunk, **{"Content-MD5": md5_b64(chunk)})
        assert reply.status == 201
        assert reply.headers["Content-MD5"] == md5_b64(chunk)
    # Nothing is visible until the commit.
    assert sb.state.blobs[grant["blobPath"]].committed_size is None
    assert (
        await commit(http, url, block_list_xml(*(("Latest", block_id(i)) for i in range(4))))
    ).status == 201
    whole = b"".join(chunks)
    downloaded = await http.request("GET", url)
    assert downloaded.body == whole
    stats = sb.state.blobs[grant["blobPath"]]
    assert stats.committed_size == len(whole)
    assert stats.committed_sha256 == hashlib.sha256(whole).hexdigest()
    assert stats.bytes_received == len(whole)
    assert stats.operations["blob_put_block"] == 4
    assert stats.operations["blob_put_block_list"] == 1
    submitted = await http.submit(grant["blobPath"])
    assert submitted.status == 201


async def test_block_list_can_mix_committed_and_uncommitted_blocks(
    rcw: tuple[Sandbox, SandboxHttp],
) -> None:
    _, http = rcw
    url = (await http.upload_url("mix.pdf", PDF))["uploadUrl"]
    await put_block(http, url, block_id(0), b"%PDF-")
    await put_block(http, url, block_id(1), b"one")
    await commit(
        http, url, block_list_xml(("Uncommitted", block_id(0)), ("Uncommitted", block_id(1)))
    )
    await put_block(http, url, block_id(1), b"TWO")
    reply = await commit(
        http, url, block_list_xml(("Committed", block_id(0)), ("Latest", block_id(1)))
    )
    assert reply.status == 201
    assert (await http.request("GET", url)).body == b"%PDF-TWO"


async def test_uncommitted_blocks_are_listed_with_read_permission(
    rcw: tuple[Sandbox, SandboxHttp],
) -> None:
    _, http = rcw
    url = (await http.upload_url("list.pdf", PDF))["uploadUrl"]
    await put_block(http, url, block_id(0), b"a" * 10)
    await put_block(http, url, block_id(1), b"b" * 7)
    reply = await http.request(
        "GET", with_params(url, comp="blocklist", blocklisttype="uncommitted")
    )
    assert reply.status == 200
    root = ET.fromstring(reply.body)
    assert root.tag == "BlockList"
    assert root.find("CommittedBlocks") is None
    blocks = [(b.findtext("Name"), b.findtext("Size")) for b in root.iter("Block")]
    assert blocks == [(block_id(0), "10"), (block_id(1), "7")]
    everything = await http.request("GET", with_params(url, comp="blocklist", blocklisttype="all"))
    root = ET.fromstring(everything.body)
    assert root.find("CommittedBlocks") is not None
    assert root.find("UncommittedBlocks") is not None


async def test_block_list_without_read_permission_is_authorization_permission_mismatch(
    sandbox_http: SandboxHttp,
) -> None:
    url = (await sandbox_http.upload_url("noread.pdf", PDF))["uploadUrl"]
    await put_block(sandbox_http, url, block_id(0), b"abc")
    reply = await sandbox_http.request(
        "GET", with_params(url, comp="blocklist", blocklisttype="uncommitted")
    )
    assert_azure_error(reply, 403, "AuthorizationPermissionMismatch")
    download = await sandbox_http.request("GET", url)
    assert_azure_error(download, 403, "AuthorizationPermissionMismatch")


async def test_block_list_of_an_unknown_blob_is_blob_not_found(
    rcw: tuple[Sandbox, SandboxHttp],
) -> None:
    _, http = rcw
    url = (await http.upload_url("ghost.pdf", PDF))["uploadUrl"]
    reply = await http.request("GET", with_params(url, comp="blocklist"))
    assert_azure_error(reply, 404, "BlobNotFound")


async def test_wrong_content_md5_is_md5_mismatch_and_nothing_is_stored(
    sandbox: Sandbox, sandbox_http: SandboxHttp
) -> None:
    grant = await sandbox_http.upload_url("md5.pdf", PDF)
    wrong = md5_b64(b"something else")
    put = await sandbox_http.put_blob(grant["uploadUrl"], b"%PDF-1", {"Content-MD5": wrong})
    block = await put_block(
        sandbox_http, grant["uploadUrl"], block_id(0), b"%PDF-1", **{"Content-MD5": wrong}
    )
    assert_azure_error(put, 400, "Md5Mismatch")
    assert_azure_error(block, 400, "Md5Mismatch")
    stats = sandbox.state.blobs[grant["blobPath"]]
    assert stats.committed_size is None
    assert stats.bytes_received == 12  # the refused bytes still crossed the wire
    assert (await sandbox_http.submit(grant["blobPath"])).status == 403


async def test_malformed_content_md5_is_invalid_md5(sandbox_http: SandboxHttp) -> None:
    url = (await sandbox_http.upload_url("badmd5.pdf", PDF))["uploadUrl"]
    reply = await sandbox_http.put_blob(url, b"%PDF-1", {"Content-MD5": "not-base64!"})
    assert_azure_error(reply, 400, "InvalidMd5")


async def test_commit_naming_an_unknown_block_is_invalid_block_list(
    sandbox_http: SandboxHttp,
) -> None:
    url = (await sandbox_http.upload_url("unknown.pdf", PDF))["uploadUrl"]
    await put_block(sandbox_http, url, block_id(0), b"%PDF-")
    reply = await commit(
        sandbox_http, url, block_list_xml(("Latest", block_id(0)), ("Latest", block_id(9)))
    )
    assert_azure_error(reply, 400, "InvalidBlockList")
    committed_only = await commit(sandbox_http, url, block_list_xml(("Committed", block_id(0))))
    assert_azure_error(committed_only, 400, "InvalidBlockList")


async def test_block_list_longer_than_the_limit_is_invalid_block_list(
    make_sandbox: MakeSandbox,
) -> None:
    async with make_sandbox(SandboxConfig(blob_max_block_list=2)) as sb, http_for(sb) as http:
        url = (await http.upload_url("many.pdf", PDF))["uploadUrl"]
        for i in range(3):
            await put_block(http, url, block_id(i), b"%PDF-")
        reply = await commit(
            http, url, block_list_xml(*(("Latest", block_id(i)) for i in range(3)))
        )
    assert_azure_error(reply, 400, "InvalidBlockList")


async def test_too_many_uncommitted_blocks_is_block_count_exceeds_limit(
    make_sandbox: MakeSandbox,
) -> None:
    async with (
        make_sandbox(SandboxConfig(blob_max_uncommitted_blocks=2)) as sb,
        http_for(sb) as http,
    ):
        url = (await http.upload_url("lots.pdf", PDF))["uploadUrl"]
        replies = [await put_block(http, url, block_id(i), b"x") for i in range(3)]
        again = await put_block(http, url, block_id(1), b"y")  # re-sending a staged id is fine
    assert [r.status for r in replies[:2]] == [201, 201]
    assert_azure_error(replies[2], 409, "BlockCountExceedsLimit")
    assert again.status == 201


@pytest.mark.parametrize(
    "body", [b"<BlockList><Latest>abc", b"<Other/>", b"<BlockList><Nope>a</Nope></BlockList>"]
)
async def test_malformed_block_list_is_invalid_xml_document(
    sandbox_http: SandboxHttp, body: bytes
) -> None:
    url = (await sandbox_http.upload_url("xml.pdf", PDF))["uploadUrl"]
    assert_azure_error(await commit(sandbox_http, url, body), 400, "InvalidXmlDocument")


async def test_block_ids_of_different_lengths_are_invalid_blob_or_block(
    sandbox_http: SandboxHttp,
) -> None:
    url = (await sandbox_http.upload_url("lengths.pdf", PDF))["uploadUrl"]
    assert (await put_block(sandbox_http, url, block_id(0, width=8), b"a")).status == 201
    reply = await put_block(sandbox_http, url, block_id(1, width=12), b"b")
    assert_azure_error(reply, 400, "InvalidBlobOrBlock")


@pytest.mark.parametrize("bid", ["not base64!", base64.b64encode(b"x" * 65).decode(), ""])
async def test_malformed_block_id_is_refused(sandbox_http: SandboxHttp, bid: str) -> None:
    url = (await sandbox_http.upload_url("bid.pdf", PDF))["uploadUrl"]
    reply = await put_block(sandbox_http, url, bid, b"a")
    assert reply.status == 400
    assert reply.error_code in ("InvalidQueryParameterValue", "MissingRequiredQueryParameter")


async def test_put_blob_discards_uncommitted_blocks(rcw: tuple[Sandbox, SandboxHttp]) -> None:
    _, http = rcw
    url = (await http.upload_url("replace.pdf", PDF))["uploadUrl"]
    await put_block(http, url, block_id(0), b"stale")
    assert (await http.put_blob(url, b"%PDF-fresh")).status == 201
    listing = await http.request(
        "GET", with_params(url, comp="blocklist", blocklisttype="uncommitted")
    )
    assert list(ET.fromstring(listing.body).iter("Block")) == []
    reply = await commit(http, url, block_list_xml(("Latest", block_id(0))))
    assert_azure_error(reply, 400, "InvalidBlockList")


async def test_expired_sas_is_refused_with_authentication_failed() -> None:
    from batcher.sandbox import running_sandbox

    now = [1_800_000_000.0]
    config = SandboxConfig(sas_lifetime_seconds=1)
    async with running_sandbox(config, clock=lambda: now[0]) as sb, http_for(sb) as http:
        url = (await http.upload_url("late.pdf", PDF))["uploadUrl"]
        now[0] += 1.05  # SAS expiry has one-second resolution, like Azure's
        reply = await http.put_blob(url, b"%PDF-1")
    root = assert_azure_error(reply, 403, "AuthenticationFailed")
    assert "Signed expiry time" in (root.findtext("AuthenticationErrorDetail") or "")


async def test_expired_sas_with_an_injected_clock(make_sandbox: MakeSandbox) -> None:
    from batcher.sandbox import running_sandbox

    now = [1_800_000_000.0]
    async with running_sandbox(SandboxConfig(), clock=lambda: now[0]) as sb, http_for(sb) as http:
        url = (await http.upload_url("clock.pdf", PDF))["uploadUrl"]
        assert (await http.put_blob(url, b"%PDF-1")).status == 201
        now[0] += 3600
        assert_azure_error(await http.put_blob(url, b"%PDF-1"), 403, "AuthenticationFailed")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url.replace("sig=", "sig=A"),
        lambda url: url.replace("sp=cw", "sp=rcw"),
        lambda url: url.replace("se=", "se=2099"),
        lambda url: url.split("&sig=")[0],
        lambda url: url.replace("tampered.pdf", "other.pdf"),
    ],
)
async def test_tampered_or_foreign_sas_is_authentication_failed(
    sandbox_http: SandboxHttp, tamper: object
) -> None:
    url = (await sandbox_http.upload_url("tampered.pdf", PDF))["uploadUrl"]
    assert callable(tamper)
    reply = await sandbox_http.put_blob(tamper(url), b"%PDF-1")
    assert_azure_error(reply, 403, "AuthenticationFailed")


async def test_missing_write_permission_is_authorization_permission_mismatch(
    make_sandbox: MakeSandbox,
) -> None:
    async with make_sandbox(SandboxConfig(sas_permissions="r")) as sb, http_for(sb) as http:
        url = (await http.upload_url("ro.pdf", PDF))["uploadUrl"]
        reply = await http.put_blob(url, b"%PDF-1")
    assert_azure_error(reply, 403, "AuthorizationPermissionMismatch")


async def test_create_only_permission_cannot_overwrite(make_sandbox: MakeSandbox) -> None:
    async with make_sandbox(SandboxConfig(sas_permissions="c")) as sb, http_for(sb) as http:
        url = (await http.upload_url("once.pdf", PDF))["uploadUrl"]
        first = await http.put_blob(url, b"%PDF-1")
        second = await http.put_blob(url, b"%PDF-2")
    assert first.status == 201
    assert_azure_error(second, 403, "AuthorizationPermissionMismatch")


async def test_put_blob_without_blob_type_is_missing_required_header(
    sandbox_http: SandboxHttp,
) -> None:
    url = (await sandbox_http.upload_url("notype.pdf", PDF))["uploadUrl"]
    reply = await sandbox_http.request("PUT", url, data=b"%PDF-1")
    assert_azure_error(reply, 400, "MissingRequiredHeader")


async def test_chunked_body_without_content_length_is_411(sandbox_http: SandboxHttp) -> None:
    url = (await sandbox_http.upload_url("chunked.pdf", PDF))["uploadUrl"]

    async def body() -> AsyncIterator[bytes]:
        yield b"%PDF-"
        yield b"rest"

    reply = await sandbox_http.request(
        "PUT", url, data=body(), headers={"x-ms-blob-type": "BlockBlob"}
    )
    assert_azure_error(reply, 411, "MissingContentLengthHeader")


async def test_body_over_the_put_blob_limit_is_request_body_too_large(
    make_sandbox: MakeSandbox,
) -> None:
    async with (
        make_sandbox(SandboxConfig(blob_max_put_blob_bytes=10, blob_max_block_bytes=5)) as sb,
        http_for(sb) as http,
    ):
        url = (await http.upload_url("huge.pdf", PDF))["uploadUrl"]
        put = await http.put_blob(url, b"%PDF-" + b"x" * 6)
        block = await put_block(http, url, block_id(0), b"x" * 6)
    assert_azure_error(put, 413, "RequestBodyTooLarge")
    assert_azure_error(block, 413, "RequestBodyTooLarge")


async def test_x_ms_version_is_tolerated_and_echoed(sandbox_http: SandboxHttp) -> None:
    url = (await sandbox_http.upload_url("ver.pdf", PDF))["uploadUrl"]
    reply = await sandbox_http.put_blob(url, b"%PDF-1", {"x-ms-version": "2026-10-06"})
    assert reply.status == 201
    assert reply.headers["x-ms-version"] == "2026-10-06"


async def test_resent_bytes_are_counted_per_blob_and_in_total(
    sandbox: Sandbox, sandbox_http: SandboxHttp
) -> None:
    url = (await sandbox_http.upload_url("count.pdf", PDF))["uploadUrl"]
    await put_block(sandbox_http, url, block_id(0), b"a" * 100)
    await put_block(sandbox_http, url, block_id(0), b"a" * 100)
    await sandbox_http.put_blob(url, b"%PDF-" + b"b" * 45)
    path = next(iter(sandbox.state.blobs))
    assert sandbox.state.bytes_received_for(path) == 250
    assert sandbox.state.blob_bytes_received == 250


async def test_large_block_upload_streams_to_disk(rcw: tuple[Sandbox, SandboxHttp]) -> None:
    sb, http = rcw
    grant = await http.upload_url("large.mp4", "video/mp4")
    block = sample("video/mp4").ljust(4 * 1024 * 1024, b"\xab")
    for i in range(4):
        assert (await put_block(http, grant["uploadUrl"], block_id(i), block)).status == 201
    body = block_list_xml(*(("Latest", block_id(i)) for i in range(4)))
    assert (await commit(http, grant["uploadUrl"], body)).status == 201
    stats = sb.state.blobs[grant["blobPath"]]
    assert stats.committed_size == 16 * 1024 * 1024
    assert stats.committed_sha256 == hashlib.sha256(block * 4).hexdigest()
    parts = list(sb.storage_dir.iterdir())
    assert sum(p.stat().st_size for p in parts) == 16 * 1024 * 1024  # blocks re-linked, not copied
