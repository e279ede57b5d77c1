"""Bad input gets a JSON error with the right status, and changes nothing."""

from __future__ import annotations

import aiohttp
import asyncpg
import pytest

from tests.portal.conftest import ADMIN_PASSWORD, ADMIN_USER, user_tables

LOGIN = "/api/v1/auth/login"
JSON = {"Content-Type": "application/json"}


async def _error(resp: aiohttp.ClientResponse) -> dict[str, str]:
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return dict(body["error"])


@pytest.mark.parametrize("payload", [b"{not json", b"\xff\xfe", b'{"username": "admin",'])
async def test_malformed_json_is_400(
    http: aiohttp.ClientSession, db: asyncpg.Connection, payload: bytes
) -> None:
    before = await user_tables(db)
    async with http.post(LOGIN, data=payload, headers=JSON) as resp:
        assert resp.status == 400
        assert (await _error(resp))["code"] == "malformed_json"
    assert await user_tables(db) == before


@pytest.mark.parametrize(("payload", "fields"), [
    ({"username": ADMIN_USER}, ["password"]),
    ({}, ["username", "password"]),
    ({"username": ADMIN_USER, "password": ADMIN_PASSWORD, "extra": 1}, ["extra"]),
    ({"username": ["admin"], "password": ADMIN_PASSWORD}, ["username"]),
])
async def test_invalid_fields_are_400_naming_them(
    http: aiohttp.ClientSession, db: asyncpg.Connection, payload: dict, fields: list[str]
) -> None:
    before = await user_tables(db)
    async with http.post(LOGIN, json=payload) as resp:
        assert resp.status == 400
        error = await _error(resp)
    assert error["code"] == "invalid_request"
    for field in fields:
        assert field in error["message"]
    assert await user_tables(db) == before


async def test_json_that_is_not_an_object_is_400(http: aiohttp.ClientSession) -> None:
    async with http.post(LOGIN, json=["admin", "pw"]) as resp:
        assert resp.status == 400
        assert (await _error(resp))["code"] == "invalid_request"


async def test_oversized_body_is_413(http: aiohttp.ClientSession, db: asyncpg.Connection) -> None:
    before = await user_tables(db)
    big = {"username": ADMIN_USER, "password": ADMIN_PASSWORD, "pad": "x" * 100 * 1024}
    async with http.post(LOGIN, json=big) as resp:  # the test portal allows 64 KiB
        assert resp.status == 413
        assert (await _error(resp))["code"] == "too_large"
    assert await user_tables(db) == before


async def test_unknown_route_and_wrong_method_are_json(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/v1/nothing-here") as resp:
        assert resp.status == 404
        assert (await _error(resp))["code"] == "not_found"
    async with http.get(LOGIN) as resp:
        assert resp.status == 405
        assert (await _error(resp))["code"] == "method_not_allowed"
        assert "POST" in resp.headers["Allow"]
