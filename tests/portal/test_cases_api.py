"""Cases through the REST API: upload, download byte-identical, list, rename, share, diff,
delete; refusals leave S3 and PostgreSQL as before; another user's case is not found."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.portal.uploads import (
    LIMIT_MB,
    call,
    case_bytes,
    error_code,
    publish_transport,
    unchanged,
    upload,
)
from tests.support.stack import Stack

CASES = "/api/v1/cases"
TRANSPORT = {"app": "transport"}


@pytest.fixture
async def published(stack: Stack) -> Stack:
    await publish_transport(stack)
    return stack


@dataclass(frozen=True)
class Download:
    status: int
    headers: dict[str, str]
    body: bytes


async def _download(stack: Stack, case_id: str, token: str | None = None) -> Download:
    async with aiohttp.ClientSession() as http, http.get(
        stack.url(f"{CASES}/{case_id}/download"), headers=stack.bearer(token or stack.admin_token)
    ) as resp:
        return Download(resp.status, dict(resp.headers), await resp.read())


async def test_upload_then_download_byte_identical(published: Stack) -> None:
    stack = published
    data = case_bytes()
    status, case = await upload(stack, CASES, data, params={**TRANSPORT, "name": "base"})
    assert status == 201, case
    assert (case["app"], case["app_version"], case["name"]) == ("transport", "1.0.0", "base")
    assert case["sha256"] == hashlib.sha256(data).hexdigest() and case["size_bytes"] == len(data)
    assert f"cases/{case['id']}" in (await stack.snapshot()).s3_keys

    resp = await _download(stack, case["id"])
    assert resp.status == 200 and resp.body == data
    assert resp.headers["Content-Length"] == str(len(data))
    assert resp.headers["X-Checksum-SHA256"] == case["sha256"]
    assert "base.mpcase" in resp.headers["Content-Disposition"]

    status, shown = await call(stack, "GET", f"{CASES}/{case['id']}")
    assert status == 200 and shown == case


async def test_list_filter_page_rename_delete(published: Stack) -> None:
    stack = published
    ids = []
    for name in ("one", "two", "three"):
        status, case = await upload(stack, CASES, case_bytes(), form=True,
                                    params={**TRANSPORT, "name": name})
        assert status == 201
        ids.append(case["id"])
    status, page = await call(stack, "GET", CASES, params={"app": "transport", "limit": "2"})
    assert status == 200 and page["total"] == 3 and len(page["cases"]) == 2
    status, page = await call(stack, "GET", CASES, params={"app": "other"})
    assert status == 200 and page == {"cases": [], "total": 0}

    status, renamed = await call(stack, "PATCH", f"{CASES}/{ids[0]}", json={"name": "renamed"})
    assert status == 200 and renamed["name"] == "renamed"
    status, _ = await call(stack, "DELETE", f"{CASES}/{ids[1]}")
    assert status == 204
    snapshot = await stack.snapshot()
    assert f"cases/{ids[1]}" not in snapshot.s3_keys and snapshot.rows["cases"] == 2


async def test_name_defaults_to_the_file_name(published: Stack) -> None:
    form = aiohttp.FormData()
    form.add_field("file", case_bytes(), filename="scenario-a.mpcase")
    status, case = await call(published, "POST", CASES, data=form, params=TRANSPORT)
    assert status == 201 and case["name"] == "scenario-a"


async def test_diff_of_two_cases(published: Stack) -> None:
    stack = published
    _, old = await upload(stack, CASES, case_bytes(), params=TRANSPORT)
    _, new = await upload(stack, CASES, case_bytes(freight=99.0), params=TRANSPORT)
    status, diff = await call(stack, "GET", f"{CASES}/{old['id']}/diff/{new['id']}")
    assert status == 200, diff
    assert diff["app"] == "transport"
    assert diff["identifiers"] == [
        {"identifier": "freight", "status": "changed",
         "changes": [{"element": [], "old": 90.0, "new": 99.0}]},
    ]


async def test_diff_of_cases_of_different_apps_is_400(published: Stack) -> None:
    stack = published
    status, _ = await upload(stack, "/api/v1/apps", stack.pack_app("sleeper").read_bytes())
    assert status == 201
    _, one = await upload(stack, CASES, case_bytes(), params=TRANSPORT)
    _, other = await upload(stack, CASES, case_bytes("sleeper", "1.0.0"),
                            params={"app": "sleeper"})
    assert "id" in other, other
    status, body = await call(stack, "GET", f"{CASES}/{one['id']}/diff/{other['id']}")
    assert (status, error_code(body)) == (400, "wrong_app")


@pytest.mark.parametrize(("data", "params", "status", "code"), [
    (case_bytes("facility-location"), TRANSPORT, 400, "wrong_app"),
    (b"PK\x03\x04 but not really a zip" * 10, TRANSPORT, 400, "not_a_case"),
    (b"plain text, not a case", TRANSPORT, 400, "not_a_case"),
    (b"", TRANSPORT, 400, "not_a_case"),
    (case_bytes(), {"app": "no-such-app"}, 404, "not_found"),
    (b"\0" * (LIMIT_MB * 2**20 + 1), TRANSPORT, 413, "too_large"),
], ids=["wrong_app", "not_a_zip", "text", "empty", "unknown_app", "too_large"])
# Short ids: the default one of a 1 MiB body is megabytes long, and pytest puts the test's id in
# PYTEST_CURRENT_TEST, making the environment of a process spawned meanwhile (the backend's
# argon2 workers) too large to exec (E2BIG, "process pool terminated abruptly").
async def test_bad_cases_are_refused_leaving_nothing(
    published: Stack, data: bytes, params: dict[str, str], status: int, code: str
) -> None:
    async with unchanged(published):
        got, body = await upload(published, CASES, data, params=params)
        assert (got, error_code(body)) == (status, code), body


async def test_another_users_case_is_404(published: Stack) -> None:
    stack = published
    _, case = await upload(stack, CASES, case_bytes(), params=TRANSPORT)
    bob = await stack.create_user("bob", "bob-password-1")
    path = f"{CASES}/{case['id']}"
    async with unchanged(stack):
        calls: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", "", {}), ("GET", "/download", {}), ("PATCH", "", {"json": {"name": "x"}}),
            ("POST", "/share", {"json": {"group": None}}), ("DELETE", "", {}),
            ("GET", f"/diff/{case['id']}", {}),
        ]
        for method, suffix, kwargs in calls:
            status, body = await call(stack, method, path + suffix, bob, **kwargs)
            assert (status, error_code(body)) == (404, "not_found"), (method, suffix)
    status, page = await call(stack, "GET", CASES, bob)
    assert page == {"cases": [], "total": 0}


async def test_share_with_a_group_lets_members_read(published: Stack) -> None:
    stack = published
    bob = await stack.create_user("bob", "bob-password-1")
    status, group = await call(stack, "POST", "/api/v1/groups", json={"name": "planners"})
    assert status == 201 and group["members"] == []
    status, body = await call(stack, "POST", "/api/v1/groups", bob, json={"name": "mine"})
    assert (status, error_code(body)) == (403, "forbidden")
    status, group = await call(stack, "POST", "/api/v1/groups/planners/members",
                               json={"username": "bob"})
    assert status == 200 and group["members"] == ["bob"]
    status, groups = await call(stack, "GET", "/api/v1/groups", bob)
    assert status == 200 and [g["name"] for g in groups["groups"]] == ["planners"]

    data = case_bytes()
    _, case = await upload(stack, CASES, data, params=TRANSPORT)
    status, body = await call(stack, "POST", f"{CASES}/{case['id']}/share",
                              json={"group": "planners"})
    assert (status, error_code(body)) == (409, "owner_not_member")  # only the owner's groups
    status, _ = await call(stack, "POST", "/api/v1/groups/planners/members",
                           json={"username": "admin"})
    assert status == 200
    status, shared = await call(stack, "POST", f"{CASES}/{case['id']}/share",
                                json={"group": "planners"})
    assert status == 200 and shared["shared_group"] == "planners"
    resp = await _download(stack, case["id"], bob)
    assert resp.status == 200 and resp.body == data
    status, body = await call(stack, "DELETE", f"{CASES}/{case['id']}", bob)
    assert status == 403 and error_code(body) == "forbidden"  # read-only


async def test_a_corrupted_object_is_not_served_whole(published: Stack) -> None:
    """A stored case whose bytes changed behind the platform's back: the transfer is cut."""
    stack = published
    data = case_bytes()
    _, case = await upload(stack, CASES, data, params=TRANSPORT)
    await stack.s3_put(f"cases/{case['id']}", data[:-1] + bytes([data[-1] ^ 1]),
                       metadata={"sha256": case["sha256"]})
    async with aiohttp.ClientSession() as http, http.get(
        stack.url(f"{CASES}/{case['id']}/download"), headers=stack.admin_headers
    ) as resp:
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()


async def test_a_form_whose_part_headers_cannot_be_read_is_400(published: Stack) -> None:
    """Found by schemathesis (tests/access/test_schemathesis.py): it was a 500."""
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"a\x1bb\"\r\n\r\nx\r\n"
            f"--{boundary}--\r\n").encode()
    headers = published.admin_headers | {
        "Content-Type": f"multipart/form-data; boundary={boundary}"}
    async with unchanged(published), aiohttp.ClientSession() as http, http.post(
            published.url(CASES), params=TRANSPORT, data=body, headers=headers) as resp:
        status, reply = resp.status, await resp.json()
    assert (status, error_code(reply)) == (400, "invalid_request"), reply
