"""Roles, per-app rights and case sharing through the REST API, on a real portal and backend.

An app one may not use is "not found" at every door (the app API, job submit, session open,
case upload); publishing needs the publisher role and publish rights on the app; a case is
shared only with a group its owner is in. Every refusal leaves the database and the bucket
as they were.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.access import rights_world as rw
from tests.access.rights_world import World
from tests.portal.uploads import OCTETS, case_bytes


@contextlib.asynccontextmanager
async def unchanged(world: World) -> AsyncIterator[None]:
    before = await world.stack.snapshot()
    yield
    assert await world.stack.snapshot() == before


async def call(world: World, who: str, method: str, path: str, **kwargs: Any
               ) -> tuple[int, Any]:
    return await rw.api(world.stack, method, path, world.tokens.get(who), **kwargs)


def code(body: Any) -> str:
    return str(body["error"]["code"])


@pytest.fixture
def world(rights_world: World) -> World:
    """The prepared platform (tests/access/conftest.py)."""
    return rights_world


async def test_an_app_restricted_to_a_group_is_not_found_for_everyone_else(
    world: World,
) -> None:
    status, rights = await call(world, "publisher", "PUT", "/api/v1/apps/transport/rights",
                                json={"use": ["team"], "publish": []})
    assert status == 200 and rights == {"app": "transport", "owner": "pub", "use": ["team"],
                                        "publish": []}
    doors = [
        ("GET", "/api/v1/apps/transport", {}, "not_found"),
        ("GET", "/api/v1/apps/transport/rights", {}, "not_found"),
        ("POST", "/api/v1/apps/transport/versions/1.0.0/activate", {}, "not_found"),
        ("POST", "/api/v1/jobs", {"json": {"app": "transport"}}, "unknown_app"),
        ("POST", "/api/v1/sessions", {"json": {"app": "transport"}}, "unknown_app"),
        ("POST", "/api/v1/cases", {"data": case_bytes(), "headers": OCTETS,
                                   "params": {"app": "transport"}}, "not_found"),
    ]
    for method, path, kwargs, expected in doors:
        async with unchanged(world):
            status, body = await call(world, "other", method, path, **kwargs)
        assert (status, code(body)) == (404, expected), (method, path, body)
    # an app nobody has: the same answer, so bob cannot tell the two apart
    status, body = await call(world, "other", "GET", "/api/v1/apps/nothing")
    assert (status, code(body)) == (404, "not_found")
    status, listing = await call(world, "other", "GET", "/api/v1/apps")
    assert status == 200 and listing["apps"] == []
    # alice is in team; the publisher and the admin keep it
    for who in ("user", "publisher", "admin"):
        status, listing = await call(world, who, "GET", "/api/v1/apps")
        assert [a["name"] for a in listing["apps"]] == ["transport"], who
    status, _ = await call(world, "user", "POST", "/api/v1/jobs", json={"app": "transport"})
    assert status == 202
    # reopened to everyone: bob uses it again
    status, _ = await call(world, "admin", "PUT", "/api/v1/apps/transport/rights",
                           json={"use": [], "publish": []})
    assert status == 200
    status, _ = await call(world, "other", "GET", "/api/v1/apps/transport")
    assert status == 200


async def test_publishing_needs_the_role_and_rights_on_the_app(world: World) -> None:
    stack = world.stack
    world.tokens["pub2"] = await rw.make_user(stack, "pub2", "publisher")
    package = rw.app_version_package(stack, "1.1.0")
    async with unchanged(world):  # a publisher, but not of transport
        status, body = await call(world, "pub2", "POST", "/api/v1/apps", data=package,
                                  headers=OCTETS)
    assert (status, code(body)) == (403, "forbidden")
    await _restrict(world)
    async with unchanged(world):  # nobody may publish an app they may not use: 404
        status, body = await call(world, "pub2", "POST", "/api/v1/apps", data=package,
                                  headers=OCTETS)
    assert (status, code(body)) == (404, "not_found")
    await _open(world)
    # a new app is pub2's own
    other = rw.app_version_package(stack, "1.0.0", src="other-app")
    status, body = await call(world, "pub2", "POST", "/api/v1/apps", data=other,
                              headers=OCTETS)
    assert status == 201, body
    status, rights = await call(world, "pub2", "GET", "/api/v1/apps/other-app/rights")
    assert status == 200 and rights["owner"] == "pub2"
    status, body = await call(world, "publisher", "GET", "/api/v1/apps/other-app/rights")
    assert (status, code(body)) == (403, "forbidden")
    # a publish group gives pub2 transport; alice, in the group too, still lacks the role
    await rw.ok(stack, "POST", "/api/v1/groups", stack.admin_token, 201, json={"name": "pubs"})
    for member in ("pub2", "alice"):
        await rw.ok(stack, "POST", "/api/v1/groups/pubs/members", stack.admin_token, 200,
                    json={"username": member})
    status, _ = await call(world, "publisher", "PUT", "/api/v1/apps/transport/rights",
                           json={"use": [], "publish": ["pubs"]})
    assert status == 200
    status, body = await call(world, "pub2", "POST", "/api/v1/apps", data=package,
                              headers=OCTETS, params={"activate": "false"})
    assert status == 201, body
    async with unchanged(world):
        status, body = await call(world, "user", "POST",
                                  "/api/v1/apps/transport/versions/1.1.0/activate")
    assert (status, code(body)) == (403, "forbidden")
    # once alice is made a publisher, the group's right is hers (a portal keeps what a token
    # resolved to for up to a second: a new token sees the new role at once)
    await rw.ok(stack, "PUT", "/api/v1/users/alice/role", stack.admin_token, 200,
                json={"role": "publisher"})
    world.tokens["user"] = await stack.login("alice", rw.PASSWORD)
    status, app = await call(world, "user", "POST",
                             "/api/v1/apps/transport/versions/1.1.0/activate")
    assert status == 200 and app["active_version"] == "1.1.0"


async def _restrict(world: World) -> None:
    await rw.ok(world.stack, "PUT", "/api/v1/apps/transport/rights", world.stack.admin_token,
                200, json={"use": ["team"], "publish": []})


async def _open(world: World) -> None:
    await rw.ok(world.stack, "PUT", "/api/v1/apps/transport/rights", world.stack.admin_token,
                200, json={"use": [], "publish": []})


async def test_app_rights_refusals(world: World) -> None:
    async with unchanged(world):
        status, body = await call(world, "publisher", "PUT", "/api/v1/apps/transport/rights",
                                  json={"use": ["team", "ghosts"], "publish": []})
    assert (status, code(body)) == (404, "unknown_group") and "ghosts" in body["error"]["message"]
    async with unchanged(world):
        status, body = await call(world, "publisher", "PUT", "/api/v1/apps/transport/rights",
                                  json={"use": "team"})
    assert (status, code(body)) == (400, "invalid_request")


async def test_roles_are_set_by_admins_and_the_last_admin_stays(world: World) -> None:
    stack = world.stack
    status, user = await call(world, "admin", "PUT", "/api/v1/users/bob/role",
                              json={"role": "publisher"})
    assert status == 200 and (user["role"], user["is_admin"]) == ("publisher", False)
    world.tokens["other"] = await stack.login("bob", rw.PASSWORD)
    status, me = await call(world, "other", "GET", "/api/v1/me")
    assert me["role"] == "publisher"
    for body, expected in (({"role": "king"}, (400, "invalid_request")),
                           ({"role": "user", "extra": 1}, (400, "invalid_request"))):
        async with unchanged(world):
            status, reply = await call(world, "admin", "PUT", "/api/v1/users/bob/role",
                                       json=body)
        assert (status, code(reply)) == expected
    async with unchanged(world):
        status, reply = await call(world, "admin", "PUT", "/api/v1/users/nobody/role",
                                   json={"role": "user"})
    assert (status, code(reply)) == (404, "unknown_user")
    async with unchanged(world):
        status, reply = await call(world, "admin", "PUT", "/api/v1/users/admin/role",
                                   json={"role": "user"})
    assert (status, code(reply)) == (409, "last_admin")
    await rw.ok(stack, "PUT", "/api/v1/users/carol/role", stack.admin_token, 200,
                json={"role": "admin"})
    status, reply = await call(world, "admin", "PUT", "/api/v1/users/admin/role",
                               json={"role": "user"})
    assert status == 200 and reply["is_admin"] is False


async def test_a_case_is_shared_only_with_its_owners_groups(world: World) -> None:
    stack = world.stack
    case = f"/api/v1/cases/{world.case_id}"
    await rw.ok(stack, "POST", "/api/v1/groups", stack.admin_token, 201, json={"name": "far"})
    async with unchanged(world):  # alice is not in "far": for her it does not exist
        status, body = await call(world, "user", "POST", case + "/share", json={"group": "far"})
    assert (status, code(body)) == (404, "unknown_group")
    async with unchanged(world):  # the admin sees "far", and is told why not
        status, body = await call(world, "admin", "POST", case + "/share", json={"group": "far"})
    assert (status, code(body)) == (409, "owner_not_member")
    status, _ = await call(world, "other", "GET", case)
    assert status == 404
    status, shared = await call(world, "user", "POST", case + "/share", json={"group": "team"})
    assert status == 200 and shared["shared_group"] == "team"
    await rw.ok(stack, "POST", "/api/v1/groups/team/members", stack.admin_token, 200,
                json={"username": "bob"})
    status, _ = await call(world, "other", "GET", case)
    assert status == 200
    async with unchanged(world):  # shared read-only: bob may not change it
        status, body = await call(world, "other", "PATCH", case, json={"name": "mine"})
    assert (status, code(body)) == (403, "forbidden")
