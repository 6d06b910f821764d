"""E1 (presigned URL) and E2 (direct upload): validation and the shapes they return."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from batcher.sandbox import Sandbox, SandboxConfig
from batcher.sandbox.config import ALLOWED_CONTENT_TYPES, DEFAULT_WORKSPACE_ID
from tests.fixtures.sandbox import API, MakeSandbox, Reply, SandboxHttp, http_for, sample

pytestmark = pytest.mark.anyio


async def _url(http: SandboxHttp, body: object) -> Reply:
    return await http.request("POST", f"{API}/uploads/url", json=body)


async def _direct(
    http: SandboxHttp,
    data: bytes,
    filename: str | None = "doc.pdf",
    content_type: str | None = "application/pdf",
    field: str = "file",
    quote_fields: bool = False,
) -> Reply:
    form = aiohttp.FormData(quote_fields=quote_fields)
    form.add_field(field, io.BytesIO(data), filename=filename, content_type=content_type)
    return await http.request("POST", f"{API}/uploads/direct", data=form)


async def test_upload_url_returns_a_sas_url_for_the_workspace_path(
    sandbox: Sandbox, sandbox_http: SandboxHttp
) -> None:
    grant = await sandbox_http.upload_url("campaign video é.mp4", "video/mp4")
    assert grant["blobPath"] == f"{DEFAULT_WORKSPACE_ID}/campaign video é.mp4"
    url = urlsplit(grant["uploadUrl"])
    assert f"{url.scheme}://{url.netloc}" == sandbox.base_url
    assert url.path == (
        f"/blob/devstoreaccount1/assets/{DEFAULT_WORKSPACE_ID}/campaign%20video%20%C3%A9.mp4"
    )
    query = parse_qs(url.query)
    assert query["sv"] == ["2025-11-05"]
    assert query["sr"] == ["b"]
    assert query["sp"] == ["cw"]
    assert query["se"] == [grant["expiresAt"]]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", grant["expiresAt"])
    expires = datetime.fromisoformat(grant["expiresAt"].replace("Z", "+00:00"))
    assert 3590 < (expires - datetime.now(UTC)).total_seconds() <= 3600


async def test_every_allowlisted_type_is_accepted(sandbox_http: SandboxHttp) -> None:
    for content_type in ALLOWED_CONTENT_TYPES:
        await sandbox_http.upload_url("f.bin", content_type)


@pytest.mark.parametrize(
    "content_type", ["application/zip", "video/mp4; codecs=avc1", "VIDEO/MP4", ""]
)
async def test_content_type_off_the_allowlist_is_415(
    sandbox_http: SandboxHttp, content_type: str
) -> None:
    reply = await _url(sandbox_http, {"filename": "a.mp4", "contentType": content_type})
    assert reply.status == 415
    assert isinstance(reply.json()["detail"], str)


@pytest.mark.parametrize(
    "body",
    [
        {"filename": "a.pdf"},
        {"contentType": "application/pdf"},
        {"filename": "a.pdf", "contentType": "application/pdf", "size": 3},
        {"filename": 3, "contentType": "application/pdf"},
        ["a.pdf", "application/pdf"],
    ],
)
async def test_missing_or_extra_fields_are_422_in_fastapi_shape(
    sandbox_http: SandboxHttp, body: object
) -> None:
    reply = await _url(sandbox_http, body)
    assert reply.status == 422
    for error in reply.json()["detail"]:
        assert error["loc"][0] == "body"
        assert isinstance(error["msg"], str)
        assert isinstance(error["type"], str)


async def test_malformed_json_is_422(sandbox_http: SandboxHttp) -> None:
    reply = await sandbox_http.request(
        "POST", f"{API}/uploads/url", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert reply.status == 422
    assert reply.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    "filename",
    ["", ".", "..", "a/b.pdf", "a\\b.pdf", "tab\there.pdf", "nul\x00.pdf", "é" * 128 + ".pdf"],
)
async def test_invalid_filename_is_403(sandbox_http: SandboxHttp, filename: str) -> None:
    reply = await _url(sandbox_http, {"filename": filename, "contentType": "application/pdf"})
    assert (reply.status, reply.json()) == (403, {"detail": "Invalid filename"})


@pytest.mark.parametrize(
    "filename",
    ["with spaces.pdf", "Ünïcödé ñame.pdf", "日本語.pdf", "x" * 251 + ".pdf", "100%+#&?.pdf"],
)
async def test_spaces_non_ascii_and_punctuation_are_valid_names(
    sandbox_http: SandboxHttp, filename: str
) -> None:
    grant = await sandbox_http.upload_url(filename, "application/pdf")
    assert grant["blobPath"].split("/", 1)[1] == filename
    reply = await sandbox_http.put_blob(grant["uploadUrl"], sample("application/pdf"))
    assert reply.status == 201


async def test_same_filename_gets_the_same_blob_path(sandbox_http: SandboxHttp) -> None:
    first = await sandbox_http.upload_url("same.pdf", "application/pdf")
    second = await sandbox_http.upload_url("same.pdf", "application/pdf")
    assert first["blobPath"] == second["blobPath"]


async def test_sas_permissions_and_lifetime_are_configurable(make_sandbox: MakeSandbox) -> None:
    config = SandboxConfig(sas_permissions="rcw", sas_lifetime_seconds=60)
    async with make_sandbox(config) as sb, http_for(sb) as http:
        grant = await http.upload_url("a.pdf", "application/pdf")
    query = parse_qs(urlsplit(grant["uploadUrl"]).query)
    assert query["sp"] == ["rcw"]
    expires = datetime.fromisoformat(grant["expiresAt"].replace("Z", "+00:00"))
    assert (expires - datetime.now(UTC)).total_seconds() <= 60


async def test_direct_upload_returns_201_with_blob_path_and_metadata(
    sandbox: Sandbox, sandbox_http: SandboxHttp
) -> None:
    data = sample("application/pdf", b"x" * 1000)
    reply = await _direct(sandbox_http, data, filename="brochure 2026.pdf")
    assert reply.status == 201
    assert reply.json() == {
        "blobPath": f"{DEFAULT_WORKSPACE_ID}/brochure 2026.pdf",
        "filename": "brochure 2026.pdf",
        "contentType": "application/pdf",
        "size": len(data),
    }
    stats = sandbox.state.blobs[reply.json()["blobPath"]]
    assert stats.committed_size == len(data)
    assert stats.bytes_received == len(data)
    submitted = await sandbox_http.submit(reply.json()["blobPath"])
    assert submitted.status == 201


async def test_direct_upload_takes_the_part_filename_literally(sandbox_http: SandboxHttp) -> None:
    # aiohttp's FormData percent-encodes filenames by default; a server that does not
    # decode them (Starlette's parser does not) stores the escapes. Clients must send
    # quote_fields=False to keep names with spaces or non-ASCII letters intact.
    data = sample("application/pdf")
    quoted = await _direct(sandbox_http, data, filename="a b.pdf", quote_fields=True)
    plain = await _direct(sandbox_http, data, filename="ä b.pdf")
    assert quoted.json()["filename"] == "a%20b.pdf"
    assert plain.json()["filename"] == "ä b.pdf"


@pytest.mark.parametrize("content_type", [None, "application/octet-stream", "application/zip"])
async def test_direct_upload_without_an_allowlisted_part_type_is_415(
    sandbox_http: SandboxHttp, content_type: str | None
) -> None:
    reply = await _direct(sandbox_http, b"%PDF-1.7", content_type=content_type)
    assert reply.status == 415


async def test_direct_upload_with_invalid_filename_is_403(sandbox_http: SandboxHttp) -> None:
    reply = await _direct(sandbox_http, b"%PDF-1.7", filename="..")
    assert (reply.status, reply.json()) == (403, {"detail": "Invalid filename"})


async def test_direct_upload_without_file_field_is_422(sandbox_http: SandboxHttp) -> None:
    reply = await _direct(sandbox_http, b"%PDF-1.7", field="upload")
    assert reply.status == 422
    assert reply.json()["detail"][0]["loc"] == ["body", "file"]
    not_multipart = await sandbox_http.request("POST", f"{API}/uploads/direct", json={})
    assert not_multipart.status == 422


async def test_direct_upload_over_the_cap_is_413_pointing_to_presigned_flow(
    make_sandbox: MakeSandbox,
) -> None:
    async with make_sandbox(SandboxConfig(direct_max_bytes=1000)) as sb, http_for(sb) as http:
        at_cap = await _direct(http, sample("application/pdf").ljust(1000, b" "))
        over = await _direct(http, sample("application/pdf").ljust(1001, b" "), filename="b.pdf")
    assert at_cap.status == 201
    assert over.status == 413
    assert over.json() == {
        "detail": "File exceeds 10MB limit; use the presigned upload flow "
        "(POST /api/integrations/uploads/url)"
    }
    assert f"{DEFAULT_WORKSPACE_ID}/b.pdf" not in sb.state.issued


async def test_default_direct_cap_is_ten_million_bytes(sandbox_http: SandboxHttp) -> None:
    over = await _direct(sandbox_http, b"%PDF-" + b"\0" * 10_000_000)
    assert over.status == 413
