"""Open live streams end when their credential does, with real servers: an SSE stream of job
events and a session WebSocket through the portal's real proxy (to a WebSocket upstream the
test serves on loopback, registered as a ready session in the database: the proxy's code path
is the real one, only the session container is replaced). Revoking the token, signing out
everywhere or disabling the account closes them, and later requests get 401. How fast is
measured by ``bench/revocation.py``, not here."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from tests.access.token_support import admin, browser_sign_in, call, token, user

CLOSED_WITHIN_S = 30  # a bound for a broken build, not a measure


async def _stream_ended(resp: aiohttp.ClientResponse) -> bytes:
    """Everything the SSE stream sent until it ended."""
    return await asyncio.wait_for(resp.content.read(), CLOSED_WITHIN_S)


async def _open_events(http: aiohttp.ClientSession, secret: str) -> aiohttp.ClientResponse:
    resp = await http.get("/api/v1/events/jobs", headers={"Authorization": f"Bearer {secret}"})
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
    assert (await resp.content.readuntil(b"\n\n")).startswith(b"retry:")
    return resp


@pytest.mark.parametrize("how", ["revoke", "everywhere", "disable"])
async def test_an_sse_stream_closes_when_its_credential_goes(
    http: aiohttp.ClientSession, how: str,
) -> None:
    alice = await user(http, "alice")
    made = await token(http, alice, "read")
    resp = await _open_events(http, made["token"])
    bystander = await _open_events(http, await user(http, "bob"))
    try:
        if how == "revoke":
            assert (await call(http, "DELETE", f"/api/v1/tokens/{made['id']}", alice))[0] == 204
        elif how == "everywhere":
            assert (await call(http, "POST", "/api/v1/auth/sign-out-everywhere", alice))[0] == 200
        else:
            status, _ = await call(http, "POST", "/api/v1/users/alice/disable", await admin(http))
            assert status == 200
        await _stream_ended(resp)
        assert not bystander.content.at_eof()  # another user's stream stays open
    finally:
        resp.close()
        bystander.close()
    status, body = await call(http, "GET", "/api/v1/events/jobs", made["token"])
    assert status == 401, body


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    """A session's stand-in on loopback: a WebSocket that greets and echoes."""
    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("hello")
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str("echo:" + message.data)
        return ws

    app = web.Application()
    app.router.add_get("/s/{session_id}/ws", socket)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def _ready_session(db: asyncpg.Connection, username: str, endpoint: str) -> str:
    """A ready session of ``username`` served at ``endpoint`` (as a worker would report)."""
    app_id = await db.fetchval("INSERT INTO apps (name) VALUES ($1) RETURNING id",
                               f"probe-{uuid.uuid4().hex[:6]}")
    version_id = await db.fetchval(
        "INSERT INTO app_versions (app_id, version, runtime_requirement, manifest, s3_key, "
        "sha256, size_bytes) VALUES ($1, '1.0.0', '>=1', '{}'::jsonb, 'k', 'x', 1) "
        "RETURNING id", app_id)
    return str(await db.fetchval(
        "INSERT INTO sessions (user_id, app_version_id, state, endpoint, worker, "
        "lease_expires_at, started_at) SELECT id, $2, 'ready', $3, 'test-worker', "
        "now() + interval '1 hour', now() FROM users WHERE username = $1 RETURNING id",
        username, version_id, endpoint))


async def _echoes(ws: aiohttp.ClientWebSocketResponse) -> None:
    assert await ws.receive_str(timeout=CLOSED_WITHIN_S) == "hello"
    await ws.send_str("ping")
    assert await ws.receive_str(timeout=CLOSED_WITHIN_S) == "echo:ping"


async def _closed_for_revocation(ws: aiohttp.ClientWebSocketResponse) -> None:
    message = await ws.receive(timeout=CLOSED_WITHIN_S)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), message
    assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION


async def test_a_proxied_websocket_closes_when_its_token_is_revoked(
    http: aiohttp.ClientSession, db: asyncpg.Connection, upstream: str, portal_url: str,
) -> None:
    alice = await user(http, "alice")
    made = await token(http, alice, "full")
    session_id = await _ready_session(db, "alice", upstream)
    url = f"{portal_url}/s/{session_id}/ws"
    headers = {"Authorization": f"Bearer {made['token']}"}
    async with aiohttp.ClientSession() as client, client.ws_connect(url, headers=headers) as ws:
        await _echoes(ws)
        assert (await call(http, "DELETE", f"/api/v1/tokens/{made['id']}", alice))[0] == 204
        await _closed_for_revocation(ws)
    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(url, headers=headers)
    assert refused.value.status == 401


async def test_a_browser_websocket_closes_on_sign_out_everywhere(
    http: aiohttp.ClientSession, db: asyncpg.Connection, upstream: str, portal_url: str,
) -> None:
    alice = await user(http, "alice")
    session_id = await _ready_session(db, "alice", upstream)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=portal_url, cookie_jar=jar) as browser:
        await browser_sign_in(browser, "alice")
        async with browser.get(f"/s/{session_id}/ws", allow_redirects=False,
                               headers={"Accept": "text/html"}) as resp:
            assert resp.status == 303
            granted = resp.headers["Location"]
        assert granted.startswith(f"/s/{session_id}/k/") and granted.endswith("/ws")
        async with aiohttp.ClientSession() as sandboxed, \
                sandboxed.ws_connect(portal_url + granted) as ws:  # no cookie: the grant
            await _echoes(ws)
            status, _ = await call(http, "POST", "/api/v1/auth/sign-out-everywhere", alice)
            assert status == 200
            await _closed_for_revocation(ws)
        async with aiohttp.ClientSession() as sandboxed:
            async with sandboxed.get(portal_url + granted) as resp:
                assert resp.status == 401
                assert (await resp.json())["error"]["code"] == "unauthenticated"
