"""Browser pages over plain HTTP: redirects, cookie flags, CSRF, sign in and out."""

from __future__ import annotations

import aiohttp
import asyncpg

from portal_svc.web_session import COOKIE_NAME
from tests.portal.conftest import ADMIN_PASSWORD, ADMIN_USER, csrf_of, user_tables

CREDENTIALS = {"username": ADMIN_USER, "password": ADMIN_PASSWORD}


async def _live_tokens(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL"))


async def _login_form(http: aiohttp.ClientSession) -> str:
    async with http.get("/login") as resp:
        assert resp.status == 200
        return csrf_of(await resp.text())


async def _sign_in(http: aiohttp.ClientSession) -> None:
    csrf = await _login_form(http)
    async with http.post("/login", data={**CREDENTIALS, "csrf_token": csrf},
                         allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/"


async def test_pages_redirect_to_login_without_a_session(http: aiohttp.ClientSession) -> None:
    async with http.get("/", allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"] == "/login"


async def test_session_cookie_is_httponly_and_lax(http: aiohttp.ClientSession) -> None:
    async with http.get("/login") as resp:
        cookie = resp.cookies[COOKIE_NAME]
        assert cookie["httponly"] and cookie["samesite"] == "Lax"
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]


async def test_sign_in_shows_dashboard_then_sign_out(
    http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    await _sign_in(http)
    async with http.get("/") as resp:
        assert resp.status == 200
        page = await resp.text()
    assert "Signed in as" in page and ADMIN_USER in page and "No apps yet" in page
    assert await _live_tokens(db) == 1
    async with http.post("/logout", data={"csrf_token": csrf_of(page)},
                         allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/login"
    assert await _live_tokens(db) == 0
    async with http.get("/", allow_redirects=False) as resp:
        assert resp.status == 302


async def test_wrong_password_rerenders_the_form_with_401(
    http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    before = await user_tables(db)
    csrf = await _login_form(http)
    data = {"username": ADMIN_USER, "password": "wrong-password", "csrf_token": csrf}
    async with http.post("/login", data=data, allow_redirects=False) as resp:
        assert resp.status == 401
        page = await resp.text()
    assert "Wrong username or password" in page and 'value="admin"' in page
    assert await user_tables(db) == before


async def test_login_post_with_a_bad_csrf_token_is_403(
    http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    before = await user_tables(db)
    await _login_form(http)
    for token in ("forged", ""):
        async with http.post("/login", data={**CREDENTIALS, "csrf_token": token},
                             allow_redirects=False) as resp:
            assert resp.status == 403
    assert await user_tables(db) == before


async def test_login_post_without_a_session_is_403(portal_url: str) -> None:
    async with aiohttp.ClientSession() as fresh:  # a cross-site POST: no cookie, no token
        async with fresh.post(f"{portal_url}/login", data=CREDENTIALS,
                              allow_redirects=False) as resp:
            assert resp.status == 403


async def test_logout_with_a_bad_csrf_token_is_403_and_keeps_the_session(
    http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    await _sign_in(http)
    async with http.post("/logout", data={"csrf_token": "forged"},
                         allow_redirects=False) as resp:
        assert resp.status == 403
    assert await _live_tokens(db) == 1
    async with http.get("/", allow_redirects=False) as resp:
        assert resp.status == 200


async def test_revoked_token_ends_the_browser_session(
    http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    await _sign_in(http)
    await db.execute("UPDATE api_tokens SET revoked_at = now()")
    async with http.get("/", allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"] == "/login"
    async with http.get("/login", allow_redirects=False) as resp:
        assert resp.status == 200  # the stale session is gone, no redirect loop


async def test_static_css_is_served(http: aiohttp.ClientSession) -> None:
    async with http.get("/static/portal.css") as resp:
        assert resp.status == 200 and "Modelport" in await resp.text()
