"""Personal API tokens through the real portal and backend: made and shown once, stored
hashed, listed without secrets, scopes enforced at the API's doors, revoked by their owner
(others get 404) or an admin, expired, refused in a URL; every refusal leaves the state as it
was."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg

from tests.access.token_support import account_state, admin, call, token, user


async def test_a_token_is_shown_once_stored_hashed_and_listed_without_secret(
    http: aiohttp.ClientSession, db: asyncpg.Connection,
) -> None:
    alice = await user(http, "alice")
    made = await token(http, alice, "jobs", "nightly")
    secret = made["token"]
    assert secret.startswith("mp_") and made["scope"] == "jobs" and made["name"] == "nightly"
    assert made["username"] == "alice" and made["last_used_at"] is None
    days = (datetime.fromisoformat(made["expires_at"]) - datetime.now(UTC)).days
    assert 29 <= days <= 30  # the default lifetime
    stored = await db.fetchrow("SELECT token_hash, kind, scope FROM api_tokens WHERE id = $1",
                               made["id"])
    assert bytes(stored["token_hash"]) == hashlib.sha256(secret.encode()).digest()
    assert (stored["kind"], stored["scope"]) == ("personal", "jobs")
    dumped = await db.fetchval("SELECT string_agg(t::text, '|') FROM api_tokens t")
    assert secret not in dumped
    status, me = await call(http, "GET", "/api/v1/me", secret)
    assert status == 200 and me["username"] == "alice"
    status, listed = await call(http, "GET", "/api/v1/tokens", alice)
    assert status == 200 and [t["id"] for t in listed["tokens"]] == [made["id"]]
    assert "token" not in listed["tokens"][0] and secret not in str(listed)
    assert listed["tokens"][0]["last_used_at"] is not None


async def test_scopes_are_enforced_at_every_door(
    http: aiohttp.ClientSession, db: asyncpg.Connection,
) -> None:
    alice = await user(http, "alice")
    read, jobs, full = [(await token(http, alice, s))["token"] for s in ("read", "jobs", "full")]
    job = {"app": "nope"}
    before = await account_state(db)
    for path in ("/api/v1/me", "/api/v1/jobs", "/api/v1/cases", "/api/v1/apps"):
        assert (await call(http, "GET", path, read))[0] == 200, path
    refused: list[tuple[str, str, str, dict[str, Any]]] = [
               ("POST", "/api/v1/jobs", read, {"json": job}),
               ("POST", "/api/v1/jobs/00000000-0000-0000-0000-000000000000/cancel", read, {}),
               ("POST", "/api/v1/cases?app=x", read, {"data": b"x"}),
               ("GET", "/api/v1/tokens", read, {}), ("GET", "/api/v1/tokens", jobs, {}),
               ("POST", "/api/v1/tokens", jobs, {"json": {"name": "x", "scope": "read"}}),
               ("POST", "/api/v1/me/password", jobs,
                {"json": {"current_password": "password-123", "new_password": "new-pass-1"}}),
               ("POST", "/api/v1/auth/sign-out-everywhere", jobs, {}),
               ("POST", "/api/v1/sessions", jobs, {"json": {"app": "nope"}}),
               ("GET", "/s/00000000-0000-0000-0000-000000000000/", jobs, {})]
    for method, path, secret, kwargs in refused:
        status, body = await call(http, method, path, secret, **kwargs)
        assert (status, body["error"]["code"]) == (403, "insufficient_scope"), (path, body)
    assert await account_state(db) == before
    # past the scope check, the request meets the backend's own rules
    status, body = await call(http, "POST", "/api/v1/jobs", jobs, json=job)
    assert status == 404, body
    status, body = await call(http, "GET", "/api/v1/tokens", full)
    assert status == 200 and len(body["tokens"]) == 3
    # a read token may still sign itself out
    assert (await call(http, "POST", "/api/v1/auth/logout", read))[0] == 204
    assert (await call(http, "GET", "/api/v1/me", read))[0] == 401


async def test_bad_requests_make_no_token(
    http: aiohttp.ClientSession, db: asyncpg.Connection,
) -> None:
    alice = await user(http, "alice")
    before = await account_state(db)
    for body, code in (({"name": "x", "scope": "admin"}, "invalid_request"),
                       ({"name": "", "scope": "read"}, "invalid_request"),
                       ({"name": "x", "scope": "read", "expires_in_days": 0}, "invalid_request"),
                       ({"name": "x", "scope": "read", "expires_in_days": 366},
                        "expiry_too_long"),
                       ({"name": "x", "scope": "read", "owner": "bob"}, "invalid_request"),
                       ({"scope": "read"}, "invalid_request")):
        status, answer = await call(http, "POST", "/api/v1/tokens", alice, json=body)
        assert (status, answer["error"]["code"]) == (400, code), (body, answer)
    assert await account_state(db) == before


async def test_only_the_owner_or_an_admin_revokes(
    http: aiohttp.ClientSession, db: asyncpg.Connection,
) -> None:
    alice, bob = await user(http, "alice"), await user(http, "bob")
    made = await token(http, alice)
    before = await account_state(db)
    for target in (made["id"], "00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        status, body = await call(http, "DELETE", f"/api/v1/tokens/{target}", bob)
        assert (status, body["error"]["code"]) == (404, "not_found"), body
    status, body = await call(http, "GET", "/api/v1/tokens?username=alice", bob)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert await account_state(db) == before
    assert (await call(http, "GET", "/api/v1/me", made["token"]))[0] == 200
    root = await admin(http)
    status, listed = await call(http, "GET", "/api/v1/tokens?username=alice", root)
    assert status == 200 and [t["id"] for t in listed["tokens"]] == [made["id"]]
    assert (await call(http, "DELETE", f"/api/v1/tokens/{made['id']}", root))[0] == 204
    status, body = await call(http, "GET", "/api/v1/me", made["token"])
    assert (status, body["error"]["code"]) == (401, "unauthenticated")
    status, _ = await call(http, "DELETE", f"/api/v1/tokens/{made['id']}", alice)
    assert status == 404  # revoked already
    assert (await call(http, "GET", "/api/v1/tokens", alice))[1]["tokens"] == []
    revoked = await db.fetchval("SELECT count(*) FROM outbox WHERE type = "
                                "'modelport.token.revoked' AND subject = $1",
                                (await call(http, "GET", "/api/v1/me", alice))[1]["id"])
    assert revoked == 1


async def test_expired_tokens_and_tokens_in_the_url_are_refused(
    http: aiohttp.ClientSession, db: asyncpg.Connection,
) -> None:
    alice = await user(http, "alice")
    made = await token(http, alice)
    before = await account_state(db)
    for query in (f"access_token={made['token']}", f"x={made['token']}", "token=abc"):
        async with http.get(f"/api/v1/me?{query}") as resp:
            assert resp.status == 400
            assert (await resp.json())["error"]["code"] == "token_in_query"
        status, body = await call(http, "GET", f"/api/v1/jobs?{query}", made["token"])
        assert (status, body["error"]["code"]) == (400, "token_in_query")
    assert await account_state(db) == before
    await db.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second' "
                     "WHERE id = $1", made["id"])
    async with http.get("/api/v1/me", headers={"Authorization": f"Bearer {made['token']}"}
                        ) as resp:
        assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Bearer"
        assert (await resp.json())["error"]["code"] == "token_expired"
    assert (await call(http, "GET", "/api/v1/tokens", alice))[1]["tokens"] == []
