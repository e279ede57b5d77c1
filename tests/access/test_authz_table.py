"""Every operation of ``/api/v1/openapi.json``, called as every kind of caller.

The portal and backend run for real (tests/support/stack.py). The document is read from the
running portal, so a new endpoint is covered as soon as it is installed: the test fails while
:data:`TABLE` does not list it. Each operation is called as ``anon``, ``user`` (alice, owner of
the prepared case, job and session), ``other`` (bob), ``publisher`` (pub, who created the app)
and ``admin``, in that order, and must answer the status the table gives. On every refusal
(4xx) the database and the bucket must be exactly as before the call.

Calls that use a resource up (delete, cancel, stop) get a fresh one before each caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.access import rights_world as rw
from tests.access.rights_world import IDENTITIES, PASSWORD, World
from tests.portal.uploads import OCTETS, case_bytes
from tests.support.stack import ADMIN_PASSWORD, ADMIN_USER

Fresh = Callable[[World], Awaitable[dict[str, str]]]
Body = Callable[[World, str], dict[str, Any]]


def statuses(anon: int, user: int, other: int, publisher: int, admin: int) -> dict[str, int]:
    return dict(zip(IDENTITIES, (anon, user, other, publisher, admin), strict=True))


def everyone(status: int) -> dict[str, int]:
    return statuses(401, status, status, status, status)


def admins(status: int) -> dict[str, int]:
    return statuses(401, 403, 403, 403, status)


def owners(status: int, *, refused: int = 404) -> dict[str, int]:
    """Alice's resource: hers and the admin's; "not found" for bob and pub."""
    return statuses(401, status, refused, refused, status)


@dataclass(frozen=True)
class Row:
    expect: dict[str, int]
    body: Body | None = None  # the request's keyword arguments for aiohttp
    fresh: Fresh | None = None  # path parameters of a resource made anew for each caller
    stream: bool = False  # read the status only (a live stream)
    fresh_token: bool = False  # the call revokes the caller's token: use a new one
    signs_out: bool = False  # the call revokes every token of the caller: sign in again after
    params: dict[str, str] = field(default_factory=dict)


def _json(data: dict[str, Any]) -> Body:
    return lambda world, who: {"json": data}


def _upload(make: Callable[[World, str], bytes], **query: str) -> Body:
    return lambda world, who: {"data": make(world, who), "headers": OCTETS, "params": query}


async def _fresh_case(world: World) -> dict[str, str]:
    return {"case_id": await rw.fresh_case(world)}


async def _fresh_job(world: World) -> dict[str, str]:
    return {"job_id": await rw.fresh_job(world)}


async def _fresh_session(world: World) -> dict[str, str]:
    return {"session_id": await rw.fresh_session(world)}


async def _fresh_app_version(world: World) -> dict[str, str]:
    return {"version": await rw.fresh_app_version(world)}


def _new_version(world: World, who: str) -> bytes:
    return rw.app_version_package(world.stack, f"1.1.{IDENTITIES.index(who)}")


async def _fresh_token(world: World) -> dict[str, str]:
    body = await rw.ok(world.stack, "POST", "/api/v1/tokens", world.tokens["user"], 201,
                       json={"name": rw.unique("tok-"), "scope": "read"})
    return {"token_id": str(body["id"])}


def _own_password(world: World, who: str) -> dict[str, Any]:
    current = ADMIN_PASSWORD if who == "admin" else PASSWORD
    return {"json": {"current_password": current, "new_password": current}}


def _runtime(world: World, who: str) -> bytes:
    return world.stack.pack_runtime(f"3.0.{IDENTITIES.index(who)}").read_bytes()


TABLE: dict[tuple[str, str], Row] = {
    ("POST", "/api/v1/auth/login"): Row(
        statuses(200, 200, 200, 200, 200),
        _json({"username": "alice", "password": PASSWORD})),
    ("GET", "/api/v1/me"): Row(everyone(200)),
    ("POST", "/api/v1/auth/logout"): Row(everyone(204), fresh_token=True),
    ("POST", "/api/v1/tokens"): Row(everyone(201), _json({"name": "ci", "scope": "read"})),
    ("GET", "/api/v1/tokens"): Row(everyone(200)),
    ("DELETE", "/api/v1/tokens/{token_id}"): Row(owners(204), fresh=_fresh_token),
    ("POST", "/api/v1/auth/sign-out-everywhere"): Row(everyone(200), signs_out=True),
    ("POST", "/api/v1/me/password"): Row(everyone(204), _own_password),
    ("POST", "/api/v1/users/{username}/password"): Row(
        admins(204), _json({"new_password": "carol-new-password"})),
    ("POST", "/api/v1/users/{username}/disable"): Row(admins(200)),
    ("POST", "/api/v1/users/{username}/enable"): Row(admins(200)),
    ("GET", "/api/v1/users"): Row(admins(200)),
    ("POST", "/api/v1/users"): Row(
        admins(201), lambda w, who: {"json": {"username": rw.unique("new-"),
                                              "password": PASSWORD}}),
    ("PUT", "/api/v1/users/{username}/role"): Row(admins(200), _json({"role": "publisher"})),
    ("GET", "/api/v1/platform-key"): Row(statuses(200, 200, 200, 200, 200)),
    ("POST", "/api/v1/runtimes"): Row(admins(201), _upload(_runtime)),
    ("GET", "/api/v1/runtimes"): Row(everyone(200)),
    ("GET", "/api/v1/runtimes/{version}"): Row(everyone(200)),
    ("DELETE", "/api/v1/runtimes/{version}"): Row(admins(204), params={"version": "2.0.0"}),
    # Plain users may not publish at all (their role), whatever the app.
    ("POST", "/api/v1/apps"): Row(
        statuses(401, 403, 403, 201, 201), _upload(_new_version, activate="false")),
    ("GET", "/api/v1/apps"): Row(everyone(200)),
    ("GET", "/api/v1/apps/{name}"): Row(everyone(200)),
    ("POST", "/api/v1/apps/{name}/versions/{version}/activate"): Row(
        statuses(401, 403, 403, 200, 200)),
    ("DELETE", "/api/v1/apps/{name}/versions/{version}"): Row(
        statuses(401, 403, 403, 204, 204), fresh=_fresh_app_version),
    ("GET", "/api/v1/apps/{name}/rights"): Row(statuses(401, 403, 403, 200, 200)),
    ("PUT", "/api/v1/apps/{name}/rights"): Row(
        statuses(401, 403, 403, 200, 200), _json({"use": [], "publish": []})),
    ("POST", "/api/v1/cases"): Row(
        everyone(201), lambda w, who: {"data": case_bytes(), "headers": OCTETS,
                                       "params": {"app": "transport", "name": rw.unique("c")}}),
    ("GET", "/api/v1/cases"): Row(everyone(200)),
    ("GET", "/api/v1/cases/{case_id}"): Row(owners(200)),
    ("GET", "/api/v1/cases/{case_id}/download"): Row(owners(200)),
    ("PATCH", "/api/v1/cases/{case_id}"): Row(owners(200), _json({"name": "renamed"})),
    ("POST", "/api/v1/cases/{case_id}/share"): Row(owners(200), _json({"group": "team"})),
    ("DELETE", "/api/v1/cases/{case_id}"): Row(owners(204), fresh=_fresh_case),
    ("GET", "/api/v1/cases/{case_id}/diff/{other_id}"): Row(owners(200)),
    ("POST", "/api/v1/groups"): Row(
        admins(201), lambda w, who: {"json": {"name": rw.unique("group-")}}),
    ("POST", "/api/v1/groups/{name}/members"): Row(
        admins(200), _json({"username": "alice"}), params={"name": "team"}),
    ("GET", "/api/v1/groups"): Row(everyone(200)),
    ("POST", "/api/v1/jobs"): Row(everyone(202), _json({"app": "transport"})),
    ("GET", "/api/v1/jobs"): Row(everyone(200)),
    ("GET", "/api/v1/jobs/{job_id}"): Row(owners(200)),
    ("POST", "/api/v1/jobs/{job_id}/cancel"): Row(owners(200), fresh=_fresh_job),
    # A queued job: its owner and the admin see it and are told why not (409).
    ("POST", "/api/v1/jobs/{job_id}/interrupt"): Row(owners(409)),
    ("GET", "/api/v1/jobs/{job_id}/log"): Row(owners(409)),
    ("GET", "/api/v1/jobs/{job_id}/result"): Row(owners(409)),
    ("GET", "/api/v1/events/jobs"): Row(everyone(200), stream=True),
    ("POST", "/api/v1/sessions"): Row(everyone(201), _json({"app": "transport"})),
    ("GET", "/api/v1/sessions"): Row(everyone(200)),
    ("GET", "/api/v1/sessions/{session_id}"): Row(owners(200)),
    ("DELETE", "/api/v1/sessions/{session_id}"): Row(owners(200), fresh=_fresh_session),
    ("GET", "/api/v1/admin/quotas"): Row(admins(200)),
    ("GET", "/api/v1/admin/quotas/{kind}/{name}"): Row(
        admins(200), params={"kind": "users", "name": "alice"}),
    ("PUT", "/api/v1/admin/quotas/{kind}/{name}"): Row(
        admins(200), _json({"queued_jobs": 1000}), params={"kind": "users", "name": "alice"}),
    ("GET", "/api/v1/admin/usage"): Row(admins(200)),
    ("GET", "/api/v1/audit"): Row(admins(200)),
    ("GET", "/api/v1/admin/hosts"): Row(admins(200)),
    # no worker reported a host in this world: the admin is told so, everyone else is refused
    ("POST", "/api/v1/admin/hosts/{name}/drain"): Row(
        statuses(401, 403, 403, 403, 404), params={"name": "nowhere"}),
    ("POST", "/api/v1/admin/hosts/{name}/return"): Row(
        statuses(401, 403, 403, 403, 404), params={"name": "nowhere"}),
    ("GET", "/api/v1/openapi.json"): Row(statuses(200, 200, 200, 200, 200)),
    ("GET", "/api/v1/asyncapi.json"): Row(statuses(200, 200, 200, 200, 200)),
}


def operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, item in document["paths"].items()
            for method in item]


async def _token_for(world: World, who: str, row: Row) -> str | None:
    if who == "anon":
        return None
    if not row.fresh_token:
        return world.tokens[who]
    if who == "admin":
        return await world.stack.login(ADMIN_USER, ADMIN_PASSWORD)
    return await world.stack.login(rw.USERNAMES[who], PASSWORD)


async def _call(world: World, key: tuple[str, str], row: Row, who: str) -> tuple[int, Any]:
    method, path = key
    values = world.params | row.params | (await row.fresh(world) if row.fresh else {})
    token = await _token_for(world, who, row)
    before = await world.stack.snapshot()
    kwargs = row.body(world, who) if row.body else {}
    status, body = await rw.api(world.stack, method, path.format(**values), token,
                                stream=row.stream, **kwargs)
    if 400 <= status < 500:
        assert await world.stack.snapshot() == before, (key, who, "changed state on refusal")
    if row.signs_out and status < 400:
        world.tokens[who] = await _token_for(world, who, Row({}, fresh_token=True))
        if who == "admin":  # the world's set-up acts as the admin too
            world.stack.admin_token = world.tokens[who]
    return status, body



@pytest.fixture
def world(rights_world: World) -> World:
    """The prepared platform (tests/access/conftest.py)."""
    return rights_world


async def test_every_operation_answers_each_caller_as_the_table_says(world: World) -> None:
    document = await rw.ok(world.stack, "GET", "/api/v1/openapi.json", None, 200)
    listed = operations(document)
    assert [op for op in listed if op not in TABLE] == [], "add these operations to TABLE"
    assert [op for op in TABLE if op not in listed] == [], "TABLE lists what is gone"
    wrong = []
    for key in listed:
        row = TABLE[key]
        for who in IDENTITIES:
            status, body = await _call(world, key, row, who)
            if status != row.expect[who]:
                wrong.append((*key, who, status, row.expect[who], body))
    assert wrong == []


def test_the_table_gives_every_caller_a_status() -> None:
    assert [key for key, row in TABLE.items() if set(row.expect) != set(IDENTITIES)] == []
