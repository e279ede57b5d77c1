"""The authenticated reverse proxy to data sessions, HTTP and WebSocket, under ``/s/{id}/``.

Who may pass: the session's owner and admins; everyone else gets 404, as for a session that
does not exist. A browser's first navigation carries the portal's cookie: the proxy checks it
and redirects to ``/s/{id}/k/{grant}/…`` (:mod:`portal_svc.session_grants`); every later
request of the session's pages is checked by its grant, since those pages run sandboxed in an
opaque origin that never sends the portal's cookie. API clients may send a bearer token
instead (a ``full`` one: :mod:`portal_svc.scopes`). The proxy never forwards the portal's
cookie, Authorization or CSRF header, and answers with ``Content-Security-Policy: sandbox
allow-scripts allow-forms allow-downloads`` (no ``allow-same-origin``): what an app renders
cannot read the portal's cookie or CSRF token, nor call the portal as the user.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import structlog
from aiohttp import web
from multidict import CIMultiDict

from common.contracts.base import Principal
from common.contracts.methods import SessionMethods
from common.contracts.sessions import SessionOut
from common.errors import Conflict, NotFound, Unavailable
from portal_svc import auth, web_session
from portal_svc.appkeys import BACKEND, JSON_ERRORS
from portal_svc.live.revocation import OPEN_STREAMS
from portal_svc.session_grants import Grants
from portal_svc.short_cache import ShortCache

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()
GRANTS = web.AppKey("session_grants", Grants)
SERVING = web.AppKey("sessions_serving", ShortCache[tuple[str, bool, str], SessionOut])
HTTP = web.AppKey("proxy_http", aiohttp.ClientSession)
SANDBOX = "sandbox allow-scripts allow-forms allow-downloads; frame-ancestors 'self'"
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
})
NOT_FORWARDED = HOP_BY_HOP | {"cookie", "authorization", "x-csrf-token", "origin"}
NOT_RETURNED = HOP_BY_HOP - {"content-length"} | {"set-cookie", "access-control-allow-origin",
                                                   "access-control-allow-credentials"}
PREFIX = "/s/{session_id}"
UNREACHABLE = "session_unreachable"


def setup(app: web.Application, secret: str) -> None:
    """Add the proxy's routes, grants and its HTTP client (closed with the app)."""
    app[GRANTS] = Grants(secret)
    app[SERVING] = ShortCache()
    app.router.add_routes(routes)
    app.cleanup_ctx.append(_client)


async def _client(app: web.Application) -> AsyncIterator[None]:
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    app[HTTP] = aiohttp.ClientSession(
        connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None, connect=10, sock_read=None))
    yield
    await app[HTTP].close()


@routes.route("*", PREFIX)
async def no_slash(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(f"/s/{request.match_info['session_id']}/")


@routes.route("*", PREFIX + "/{tail:.*}")
async def proxy(request: web.Request) -> web.StreamResponse:
    if "text/html" not in request.headers.get("Accept", ""):
        request[JSON_ERRORS] = True  # a page's script or an API client: errors in JSON
    session_id, tail = request.match_info["session_id"], request.match_info["tail"]
    if tail.startswith("k/"):
        grant_token, _, rest = tail[2:].partition("/")
        return await _granted(request, session_id, grant_token, rest)
    return await _first(request, session_id, tail)


async def _first(request: web.Request, session_id: str, tail: str) -> web.StreamResponse:
    """A request with the portal's credentials: a bearer token is proxied as is; a browser
    (the portal's cookie) is redirected to the grant path."""
    token = auth.bearer_token(request)
    if token is None:
        token = await web_session.session_token(request)
        cookie = True
    else:
        cookie = False
    caller = await auth.resolve(request, token)
    if not cookie:
        return await _pass(request, caller, session_id, tail)
    session = await _visible(request, caller.principal, session_id)
    if request.method not in ("GET", "HEAD"):
        raise NotFound("session not found")
    grant = request.app[GRANTS].issue(session.id, caller.principal, caller.token)
    location = f"/s/{session.id}/k/{grant}/{tail}"
    if request.query_string:
        location += "?" + request.query_string
    raise web.HTTPSeeOther(location)


async def _granted(request: web.Request, session_id: str, token: str,
                   rest: str) -> web.StreamResponse:
    grant = request.app[GRANTS].check(token, session_id)
    if grant is None:
        if request.method == "GET" and not _is_websocket(request):  # re-authenticate
            raise web.HTTPSeeOther(f"/s/{session_id}/{rest}")
        raise NotFound("session not found")
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return _preflight(request)
    caller = await auth.resolve(request, grant.token)  # signed out or disabled since: 401
    return await _pass(request, caller, session_id, rest)


async def _pass(request: web.Request, caller: auth.Caller, session_id: str,
                rest: str) -> web.StreamResponse:
    """Forward to the session when the caller may see it and it serves. When its agent does
    not answer, the backend is asked again (the kept answer may be a second old): a session
    that has ended answers as such, one that still serves ``session_unreachable``."""
    principal = caller.principal
    session = await _visible(request, principal, session_id)
    try:
        return await _forward(request, session, rest, caller)
    except Unavailable as exc:
        if exc.code != UNREACHABLE:
            raise
        request.app[SERVING].forget(_key(principal, session_id))
        await _serving(request, principal, session_id)
        raise


def _key(principal: Principal, session_id: str) -> tuple[str, bool, str]:
    return principal.user_id or principal.username, principal.is_admin, session_id


async def _visible(request: web.Request, principal: Principal,
                   session_id: str) -> SessionOut:
    """The session when ``principal`` may see it and it serves; NotFound (any stranger),
    Unavailable ``session_not_ready`` while it starts, Conflict ``session_ended``.

    A serving session's answer is kept for a second (:class:`ShortCache`): a page's burst of
    requests asks the backend once, and a stop or a revoked right shows within a second."""
    return await request.app[SERVING].get(
        _key(principal, session_id), lambda: _serving(request, principal, session_id))


async def _serving(request: web.Request, principal: Principal, session_id: str) -> SessionOut:
    session = await request.app[BACKEND].call(SessionMethods.GET, actor=principal,
                                              session_id=session_id)
    if session.state == "ready" and session.endpoint:
        return session
    if session.state in ("requested", "starting"):
        raise Unavailable("the session is still starting; reload in a moment",
                          code="session_not_ready")
    raise Conflict(session.message or f"the session is {session.state}", code="session_ended")


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def _preflight(request: web.Request) -> web.Response:
    """CORS preflight of a sandboxed page (origin ``null``): the grant in the path is what
    authenticates, so allowing that origin lends nothing ambient."""
    response = web.Response(status=204)
    _cors(request, response)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE"
    response.headers["Access-Control-Allow-Headers"] = request.headers.get(
        "Access-Control-Request-Headers", "Content-Type")
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _cors(request: web.Request, response: web.StreamResponse) -> None:
    if request.headers.get("Origin") == "null":
        response.headers["Access-Control-Allow-Origin"] = "null"
        response.headers["Access-Control-Allow-Credentials"] = "true"


def _upstream_headers(request: web.Request) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in request.headers.items():
        if name.lower() not in NOT_FORWARDED and not name.lower().startswith("sec-websocket"):
            headers.add(name, value)
    headers["X-Forwarded-Proto"] = request.scheme
    return headers


async def _forward(request: web.Request, session: SessionOut, rest: str,
                   caller: auth.Caller) -> web.StreamResponse:
    assert session.endpoint is not None
    path = f"/s/{session.id}/{rest}"
    if request.query_string:
        path += "?" + request.query_string
    if _is_websocket(request):
        return await _websocket(request, session.endpoint + path, caller)
    return await _http(request, session.endpoint + path)


async def _http(request: web.Request, url: str) -> web.StreamResponse:
    body = request.content if request.body_exists else None
    try:
        upstream = await request.app[HTTP].request(
            request.method, url, headers=_upstream_headers(request), data=body,
            allow_redirects=False)
    except aiohttp.ClientError as exc:
        log.info("session_unreachable", error=repr(exc))
        raise Unavailable("the session does not answer", code=UNREACHABLE) from None
    async with upstream:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in upstream.headers.items():
            if name.lower() not in NOT_RETURNED:
                response.headers.add(name, value)
        _sandbox(request, response)
        await response.prepare(request)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
    return response


def _sandbox(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.add("Content-Security-Policy", SANDBOX)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = response.headers.get("Cache-Control", "no-store")
    _cors(request, response)


async def _websocket(request: web.Request, url: str,
                     caller: auth.Caller) -> web.StreamResponse:
    """Pump both ways until either side closes, or the caller's credential is revoked
    (closed with 1008 ``credential revoked``: :mod:`portal_svc.live.revocation`)."""
    ws_url = "ws" + url.removeprefix("http")
    try:
        upstream = await request.app[HTTP].ws_connect(
            ws_url, headers=_upstream_headers(request), autoping=True,
            protocols=_protocols(request))
    except (aiohttp.ClientError, aiohttp.WSServerHandshakeError) as exc:
        log.info("session_ws_unreachable", error=repr(exc))
        raise Unavailable("the session does not answer", code=UNREACHABLE) from None
    client = web.WebSocketResponse(autoping=True, protocols=_protocols(request))
    await client.prepare(request)
    revoked = asyncio.Event()
    try:
        with request.app[OPEN_STREAMS].track(caller, revoked.set):
            await _pump_both(client, upstream, revoked)
    finally:
        await upstream.close()
        if revoked.is_set():
            await client.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION,
                               message=b"credential revoked")
        await client.close()
    return client


def _protocols(request: web.Request) -> tuple[str, ...]:
    listed = request.headers.get("Sec-WebSocket-Protocol", "")
    return tuple(p.strip() for p in listed.split(",") if p.strip())


async def _pump_both(client: web.WebSocketResponse,
                     upstream: aiohttp.ClientWebSocketResponse, revoked: asyncio.Event) -> None:
    tasks = [asyncio.create_task(_pump(client, upstream)),
             asyncio.create_task(_pump(upstream, client)),
             asyncio.create_task(revoked.wait())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


async def _pump(source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse) -> None:
    async for message in source:
        if message.type == aiohttp.WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == aiohttp.WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        else:
            break

