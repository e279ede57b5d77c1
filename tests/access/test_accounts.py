"""Local accounts through the real portal and backend: change your own password (the current
one needed), an admin's reset, disabling and enabling, signing out everywhere. Refusals leave
the state as it was."""

from __future__ import annotations

import aiohttp
import asyncpg

from tests.access.token_support import (
    PASSWORD,
    account_state,
    admin,
    browser_sign_in,
    call,
    token,
    user,
)
from tests.portal.conftest import login


async def _login_status(http: aiohttp.ClientSession, name: str, password: str) -> int:
    status, _ = await call(http, "POST", "/api/v1/auth/login",
                           json={"username": name, "password": password})
    return status


async def test_changing_your_password_needs_the_current_one(
    http: aiohttp.ClientSession, db: asyncpg.Connection,
) -> None:
    alice = await user(http, "alice")
    before = await account_state(db)
    for body, status, code in (
            ({"current_password": "wrong-one", "new_password": "new-password-1"}, 403,
             "wrong_password"),
            ({"current_password": PASSWORD, "new_password": "short"}, 400, "invalid_request"),
            ({"new_password": "new-password-1"}, 400, "invalid_request")):
        got, answer = await call(http, "POST", "/api/v1/me/password", alice, json=body)
        assert (got, answer["error"]["code"]) == (status, code), answer
    assert await account_state(db) == before
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = "
                             "'user.password_refused'") == 1
    status, _ = await call(http, "POST", "/api/v1/me/password", alice,
                           json={"current_password": PASSWORD, "new_password": "new-password-1"})
    assert status == 204
    assert await _login_status(http, "alice", PASSWORD) == 401
    assert await _login_status(http, "alice", "new-password-1") == 200
    assert (await call(http, "GET", "/api/v1/me", alice))[0] == 200  # own tokens stay


async def test_an_admin_resets_a_password_and_the_tokens_die(
    http: aiohttp.ClientSession, db: asyncpg.Connection,
) -> None:
    alice, bob = await user(http, "alice"), await user(http, "bob")
    made = await token(http, alice, "full")
    root = await admin(http)
    before = await account_state(db)
    status, body = await call(http, "POST", "/api/v1/users/alice/password", bob,
                              json={"new_password": "taken-over-1"})
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = await call(http, "POST", "/api/v1/users/nobody/password", root,
                              json={"new_password": "whatever-123"})
    assert status == 404
    status, body = await call(http, "POST", "/api/v1/users/alice/password", root,
                              json={"new_password": "short"})
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    assert await account_state(db) == before
    status, _ = await call(http, "POST", "/api/v1/users/alice/password", root,
                           json={"new_password": "reset-pass-1"})
    assert status == 204
    for secret in (alice, made["token"]):
        assert (await call(http, "GET", "/api/v1/me", secret))[0] == 401
    assert await _login_status(http, "alice", "reset-pass-1") == 200


async def test_a_disabled_account_can_do_nothing_until_enabled(
    http: aiohttp.ClientSession, db: asyncpg.Connection,
) -> None:
    alice, bob = await user(http, "alice"), await user(http, "bob")
    made = await token(http, alice, "read")
    root = await admin(http)
    before = await account_state(db)
    status, body = await call(http, "POST", "/api/v1/users/alice/disable", bob)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = await call(http, "POST", "/api/v1/users/admin/disable", root)
    assert (status, body["error"]["code"]) == (409, "cannot_disable_self")
    assert (await call(http, "POST", "/api/v1/users/nobody/disable", root))[0] == 404
    assert await account_state(db) == before
    status, body = await call(http, "POST", "/api/v1/users/alice/disable", root)
    assert status == 200 and body["disabled"] is True
    for secret in (alice, made["token"]):
        status, body = await call(http, "GET", "/api/v1/me", secret)
        assert status == 401, body
    assert await _login_status(http, "alice", PASSWORD) == 401
    status, body = await call(http, "POST", "/api/v1/users/alice/enable", root)
    assert status == 200 and body["disabled"] is False
    assert (await call(http, "GET", "/api/v1/me", made["token"]))[0] == 401  # stays revoked
    assert await _login_status(http, "alice", PASSWORD) == 200
    types = await db.fetch("SELECT type FROM outbox WHERE type LIKE 'modelport.user.%abled' "
                           "ORDER BY seq")
    assert [r["type"] for r in types] == ["modelport.user.disabled", "modelport.user.enabled"]


async def test_sign_out_everywhere_ends_every_token_and_browser_session(
    http: aiohttp.ClientSession, portal_url: str,
) -> None:
    alice = await user(http, "alice")
    other_login = await login(http, "alice", PASSWORD)
    made = await token(http, alice, "full")
    bob = await user(http, "bob")
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=portal_url, cookie_jar=jar) as browser:
        await browser_sign_in(browser, "alice")
        status, body = await call(http, "POST", "/api/v1/auth/sign-out-everywhere", made["token"])
        assert status == 200 and body["revoked"] == 4  # three sign-ins and the token
        for secret in (alice, other_login, made["token"]):
            assert (await call(http, "GET", "/api/v1/me", secret))[0] == 401
        async with browser.get("/account", allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"] == "/login"
    assert (await call(http, "GET", "/api/v1/me", bob))[0] == 200
