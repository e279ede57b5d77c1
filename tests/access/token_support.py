"""Helpers of the token tests: REST calls through the real portal, users, tokens."""

from __future__ import annotations

from typing import Any

import aiohttp
import asyncpg

from tests.portal.conftest import ADMIN_PASSWORD, ADMIN_USER, bearer, csrf_of, login
from tests.support import db_state

PASSWORD = "password-123"


async def call(http: aiohttp.ClientSession, method: str, path: str, token: str | None = None,
               **kwargs: Any) -> tuple[int, Any]:
    """Status and JSON body (None when empty) of one API call."""
    headers = bearer(token) if token else {}
    async with http.request(method, path, headers=headers, **kwargs) as resp:
        text = await resp.text()
        return resp.status, (await resp.json()) if text else None


async def admin(http: aiohttp.ClientSession) -> str:
    return await login(http, ADMIN_USER, ADMIN_PASSWORD)


async def user(http: aiohttp.ClientSession, name: str) -> str:
    """A new user's sign-in token (made by the admin)."""
    status, body = await call(http, "POST", "/api/v1/users", await admin(http),
                              json={"username": name, "password": PASSWORD})
    assert status == 201, body
    return await login(http, name, PASSWORD)


async def token(http: aiohttp.ClientSession, owner: str, scope: str = "read",
                name: str = "script") -> dict[str, Any]:
    """A new personal token of the owner of sign-in token ``owner`` (its reply)."""
    status, body = await call(http, "POST", "/api/v1/tokens", owner,
                              json={"name": name, "scope": scope})
    assert status == 201, body
    return dict(body)


async def account_state(db: asyncpg.Connection) -> dict[str, db_state.TableState]:
    """What a refused account or token request must leave as it was."""
    return await db_state.tables(db, ["users", "api_tokens", "outbox", "jobs", "cases"])


async def browser_sign_in(browser: aiohttp.ClientSession, name: str) -> None:
    """Sign ``name`` in through the login page (``browser`` keeps the session cookie)."""
    async with browser.get("/login") as resp:
        csrf = csrf_of(await resp.text())
    async with browser.post("/login", data={"csrf_token": csrf, "username": name,
                                            "password": PASSWORD}) as resp:
        assert resp.status == 200 and resp.url.path == "/"
