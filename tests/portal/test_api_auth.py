"""Login, /me and logout through the real portal and backend."""

from __future__ import annotations

import aiohttp
import asyncpg
import structlog
from structlog.testing import capture_logs

from tests.portal.conftest import ADMIN_PASSWORD, ADMIN_USER, bearer, user_tables


async def test_readyz_pings_the_backend_over_amqp_and_s3(http: aiohttp.ClientSession) -> None:
    async with http.get("/readyz") as resp:
        assert resp.status == 200
        assert (await resp.json())["checks"] == {"amqp": True, "backend": True, "s3": True}
    async with http.get("/healthz") as resp:
        assert resp.status == 200


async def test_login_then_me_then_logout(http: aiohttp.ClientSession) -> None:
    async with http.post("/api/v1/auth/login",
                         json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["user"]["username"] == ADMIN_USER and body["user"]["is_admin"] is True
    token = body["token"]
    async with http.get("/api/v1/me", headers=bearer(token)) as resp:
        assert resp.status == 200
        assert (await resp.json())["id"] == body["user"]["id"]
    async with http.post("/api/v1/auth/logout", headers=bearer(token)) as resp:
        assert resp.status == 204
    async with http.get("/api/v1/me", headers=bearer(token)) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "unauthenticated"


async def test_request_id_travels_in_and_out(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/v1/me", headers={"X-Request-ID": "req-123"}) as resp:
        assert resp.headers["X-Request-ID"] == "req-123"
    async with http.get("/healthz", headers={"X-Request-ID": "bad id\twith junk"}) as resp:
        generated = resp.headers["X-Request-ID"]
    assert generated and generated != "bad id\twith junk"


async def test_wrong_password_and_unknown_user_look_the_same(
    http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    before = await user_tables(db)
    answers = []
    for username, password in ((ADMIN_USER, "not-the-password"), ("nobody", ADMIN_PASSWORD)):
        async with http.post("/api/v1/auth/login",
                             json={"username": username, "password": password}) as resp:
            answers.append((resp.status, await resp.json()))
    assert answers[0] == answers[1]
    status, body = answers[0]
    assert status == 401 and body["error"]["code"] == "unauthenticated"
    assert await user_tables(db) == before


async def test_a_user_name_with_a_nul_is_bad_input_not_a_server_error(
    http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    """Found by schemathesis: PostgreSQL text holds no NUL, and the sign-in failed in the
    database (500). The address is the portal's to set, not the body's."""
    before = await user_tables(db)
    async with http.post("/api/v1/auth/login", json={"username": "ad\u0000min",
                                                     "password": "x"}) as resp:
        assert resp.status == 400, await resp.text()
        assert (await resp.json())["error"]["code"] == "invalid_request"
    async with http.post("/api/v1/auth/login", json={"username": ADMIN_USER, "password": "x",
                                                     "client_ip": "10.0.0.1"}) as resp:
        assert resp.status == 400, await resp.text()
    assert await user_tables(db) == before


async def test_me_without_or_with_a_bad_token_is_401(http: aiohttp.ClientSession) -> None:
    for headers in ({}, bearer("mp_not-a-token"), bearer("x" * 500), {"Authorization": "Basic x"}):
        async with http.get("/api/v1/me", headers=headers) as resp:
            assert resp.status == 401, headers
            assert resp.headers["WWW-Authenticate"] == "Bearer"
            assert (await resp.json())["error"]["code"] == "unauthenticated"




async def test_request_id_reaches_the_backend_as_correlation_id(
    http: aiohttp.ClientSession,
) -> None:
    headers = {**bearer("mp_bogus"), "X-Request-ID": "trace-42"}
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        async with http.get("/api/v1/me", headers=headers):
            pass
    backend_lines = [e for e in logs if e.get("rpc") == "auth.resolve"]  # bound by RpcServer
    assert backend_lines and all(e["correlation_id"] == "trace-42" for e in backend_lines)
