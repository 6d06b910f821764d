"""Keys, plan gating and routing errors, over real loopback HTTP."""

from __future__ import annotations

import pytest

from batcher.sandbox import Sandbox, SandboxConfig
from tests.fixtures.sandbox import API, MakeSandbox, SandboxHttp, http_for

pytestmark = pytest.mark.anyio

KEYS = SandboxConfig(
    expired_keys=frozenset({"sk_test_expired_1"}),
    revoked_keys=frozenset({"sk_live_revoked_1"}),
    unpaid_keys=frozenset({"sk_live_unpaid_1"}),
    live_keys=frozenset({"sk_live_" + "a" * 64}),
)


@pytest.mark.parametrize(
    ("key", "detail"),
    [
        (None, "Missing X-API-Key header"),
        ("", "Missing X-API-Key header"),
        ("sk_live_" + "b" * 64, "Invalid API key"),
        ("not-a-key", "Invalid API key"),
        ("sk_test_expired_1", "This API key has expired"),
        ("sk_live_revoked_1", "This API key has been revoked"),
    ],
)
async def test_each_bad_key_gets_its_documented_401_message(
    make_sandbox: MakeSandbox, key: str | None, detail: str
) -> None:
    async with make_sandbox(KEYS) as sb, http_for(sb) as http:
        reply = await http.request(
            "GET", f"{API}/submissions/{'0' * 8}-0000-4000-8000-{'0' * 12}", key=key
        )
    assert reply.status == 401
    assert reply.json() == {"detail": detail}
    if key:
        assert key.encode() not in reply.body


async def test_unpaid_key_gets_402_plan_gating_naming_the_bucket(make_sandbox: MakeSandbox) -> None:
    async with make_sandbox(KEYS) as sb, http_for(sb, "sk_live_unpaid_1") as http:
        write = await http.submit("x/y.pdf")
        upload = await http.request(
            "POST",
            f"{API}/uploads/url",
            json={"filename": "a.pdf", "contentType": "application/pdf"},
        )
    assert write.status == 402
    assert write.json() == {
        "error_code": "tier_not_authorized_for_integrations_api",
        "message": "Your plan does not include access to the Integrations API.",
        "bucket": "submission_write",
    }
    assert upload.json()["bucket"] == "upload"


async def test_live_and_any_test_key_are_accepted(make_sandbox: MakeSandbox) -> None:
    async with make_sandbox(KEYS) as sb:
        for key in ("sk_live_" + "a" * 64, "sk_test_anything"):
            async with http_for(sb, key) as http:
                grant = await http.upload_url("ok.pdf", "application/pdf")
                assert grant["blobPath"].endswith("/ok.pdf")


async def test_test_keys_can_be_restricted_to_a_list(make_sandbox: MakeSandbox) -> None:
    config = SandboxConfig(accept_any_test_key=False, test_keys=frozenset({"sk_test_only"}))
    async with make_sandbox(config) as sb, http_for(sb, "sk_test_other") as http:
        reply = await http.request("GET", f"{API}/submissions/x")
    assert (reply.status, reply.json()) == (401, {"detail": "Invalid API key"})


@pytest.mark.parametrize(
    "path",
    [
        f"{API}/submissions/00000000-0000-4000-8000-000000000000/status",
        f"{API}/submissions/00000000-0000-4000-8000-000000000000/assets/"
        "00000000-0000-4000-8000-000000000001/results",
        f"{API}/nothing-here",
        "/api/v1/integrations/submissions",
    ],
)
async def test_undocumented_suffixes_and_routes_are_404_not_found(
    sandbox_http: SandboxHttp, path: str
) -> None:
    reply = await sandbox_http.request("GET", path)
    assert (reply.status, reply.json()) == (404, {"detail": "Not Found"})


async def test_wrong_method_is_405(sandbox_http: SandboxHttp) -> None:
    reply = await sandbox_http.request("GET", f"{API}/uploads/url")
    assert reply.status == 405
    assert reply.json() == {"detail": "Method Not Allowed"}
    assert "POST" in reply.headers["Allow"]


async def test_header_name_is_x_api_key_and_nothing_else(sandbox_http: SandboxHttp) -> None:
    reply = await sandbox_http.request(
        "GET", f"{API}/submissions/x", key=None, headers={"Authorization": "Bearer sk_test_sandbox"}
    )
    assert (reply.status, reply.json()) == (401, {"detail": "Missing X-API-Key header"})


async def test_non_uuid_submission_id_is_422_with_a_path_loc(sandbox_http: SandboxHttp) -> None:
    reply = await sandbox_http.request("GET", f"{API}/submissions/not-a-uuid")
    assert reply.status == 422
    [error] = reply.json()["detail"]
    assert error["loc"] == ["path", "submission_id"]
    assert error["type"] == "uuid_parsing"


async def test_requests_are_counted_per_endpoint(
    sandbox: Sandbox, sandbox_http: SandboxHttp
) -> None:
    await sandbox_http.upload_url("a.pdf", "application/pdf")
    await sandbox_http.request("GET", f"{API}/submissions/00000000-0000-4000-8000-000000000000")
    assert sandbox.state.requests["upload_url"] == 1
    assert sandbox.state.requests["get_submission"] == 1
    assert sandbox.state.responses["get_submission:404"] == 1
