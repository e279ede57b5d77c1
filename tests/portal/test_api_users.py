"""Admin-only user management: the backend decides, the portal passes the caller as actor."""

from __future__ import annotations

import aiohttp
import asyncpg

from tests.portal.conftest import ADMIN_PASSWORD, ADMIN_USER, bearer, login, user_tables

USERS = "/api/v1/users"
ALICE = {"username": "alice", "password": "alice-password", "display_name": "Alice Doe"}


async def _create(http: aiohttp.ClientSession, token: str, body: dict) -> aiohttp.ClientResponse:
    async with http.post(USERS, json=body, headers=bearer(token)) as resp:
        await resp.read()
        return resp


async def test_admin_creates_and_lists_users(http: aiohttp.ClientSession) -> None:
    admin = await login(http, ADMIN_USER, ADMIN_PASSWORD)
    async with http.post(USERS, json=ALICE, headers=bearer(admin)) as resp:
        assert resp.status == 201
        created = await resp.json()
    assert (created["username"], created["display_name"], created["is_admin"]) == (
        "alice", "Alice Doe", False
    )
    assert "password" not in created
    async with http.get(USERS, params={"limit": "10"}, headers=bearer(admin)) as resp:
        assert resp.status == 200
        page = await resp.json()
    assert page["total"] == 2
    assert sorted(u["username"] for u in page["users"]) == ["admin", "alice"]
    alice = await login(http, "alice", ALICE["password"])
    async with http.get("/api/v1/me", headers=bearer(alice)) as resp:
        assert (await resp.json())["display_name"] == "Alice Doe"


async def test_non_admin_is_refused_and_nothing_changes(
    http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    admin = await login(http, ADMIN_USER, ADMIN_PASSWORD)
    assert (await _create(http, admin, ALICE)).status == 201
    alice = await login(http, "alice", ALICE["password"])
    before = await user_tables(db)
    bob = {"username": "bob", "password": "bob-password"}
    async with http.post(USERS, json=bob, headers=bearer(alice)) as resp:
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == "forbidden"
    async with http.get(USERS, headers=bearer(alice)) as resp:
        assert resp.status == 403
    assert await user_tables(db) == before


async def test_duplicate_username_is_409(
    http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    admin = await login(http, ADMIN_USER, ADMIN_PASSWORD)
    assert (await _create(http, admin, ALICE)).status == 201
    before = await user_tables(db)
    async with http.post(USERS, json={**ALICE, "display_name": "Other"},
                         headers=bearer(admin)) as resp:
        assert resp.status == 409
        assert (await resp.json())["error"]["code"] == "user_exists"  # the backend's code
    assert await user_tables(db) == before


async def test_bad_user_fields_and_query_are_400(http: aiohttp.ClientSession) -> None:
    admin = await login(http, ADMIN_USER, ADMIN_PASSWORD)
    async with http.post(USERS, json={"username": "No Spaces!", "password": "short"},
                         headers=bearer(admin)) as resp:
        assert resp.status == 400
        message = (await resp.json())["error"]["message"]
    assert "username" in message and "password" in message
    async with http.get(USERS, params={"limit": "0"}, headers=bearer(admin)) as resp:
        assert resp.status == 400
        assert "limit" in (await resp.json())["error"]["message"]


async def test_users_need_a_token(http: aiohttp.ClientSession) -> None:
    async with http.post(USERS, json=ALICE) as resp:
        assert resp.status == 401
