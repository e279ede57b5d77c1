"""The session's HTTP side: the WebUI, the JSON data API and the live WebSocket (docs/agent.md §5).

Every route exists under the base path the proxy mounts the session at (``/s/{id}/``) and,
so a proxy that strips that prefix works as well, under ``/``. Pages use relative URLs only.
Errors are ``{"error": {"code", "message", "issues"?}}`` with a 4xx status; a refused write
lists each issue with ``identifier``, ``element``, ``rule`` and ``message``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from modelport.agent.session.data import UnknownIdentifier
from modelport.agent.session.platform import PlatformError
from modelport.agent.session.service import Busy, SessionService
from modelport.agent.session_protocol import MAX_CONTENT_BYTES
from modelport.appkit import AppKitError, DataError, UnknownProcedure
from modelport.case import CaseError

WEBUI = Path(__file__).resolve().parents[1] / "webui"
SERVICE = web.AppKey("service", SessionService)
MAX_JSON_BYTES = 8 * 1024 * 1024
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'self'; "
       "sandbox allow-scripts allow-forms allow-downloads")
PLATFORM_STATUS = {"not_found": 404, "forbidden": 403, "invalid": 422, "wrong_app": 422,
                   "too_large": 413, "timeout": 504, "unavailable": 503}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, **extra}},
                             status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Known failures become 4xx JSON answers; every call counts as activity."""
    request.app[SERVICE].touch()
    try:
        return await handler(request)
    except UnknownIdentifier as exc:
        return error(404, exc.code, exc.message, issues=[i.to_dict() for i in exc.issues])
    except DataError as exc:
        return error(422, exc.code, exc.message, issues=[i.to_dict() for i in exc.issues])
    except UnknownProcedure as exc:
        return error(404, exc.code, exc.message)
    except CaseError as exc:
        return error(422, exc.code, exc.message)
    except AppKitError as exc:
        return error(422, exc.code, exc.message)
    except Busy as exc:
        return error(409, exc.code, str(exc))
    except PlatformError as exc:
        return error(PLATFORM_STATUS.get(exc.code, 502), exc.code, exc.message)


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CSP on every answer; CORS for the page's own sandboxed (opaque, ``null``) origin."""
    if request.method == "OPTIONS":
        response: web.StreamResponse = web.Response(status=204)
    else:
        response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
    if request.headers.get("Origin") == "null":
        response.headers["Access-Control-Allow-Origin"] = "null"
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    return response


async def body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; 400 ``bad_request`` otherwise."""
    try:
        found = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text=json.dumps({"error": {
            "code": "bad_request", "message": "the body is not JSON"}}),
            content_type="application/json") from None
    if not isinstance(found, dict):
        raise _bad("the body must be a JSON object")
    return found


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": {"code": "bad_request",
                                                         "message": message}}),
                              content_type="application/json")


def service(request: web.Request) -> SessionService:
    return request.app[SERVICE]


# --- pages -----------------------------------------------------------------------------


async def index(request: web.Request) -> web.StreamResponse:
    if not request.path.endswith("/"):
        raise web.HTTPFound(request.path + "/")
    return web.FileResponse(WEBUI / "index.html")


async def describe(request: web.Request) -> web.Response:
    s = service(request)
    return web.json_response({"app": s.loaded.app.describe(), "status": s.status()})


# --- data ------------------------------------------------------------------------------


async def all_data(request: web.Request) -> web.Response:
    s = service(request)
    return web.json_response({"revision": s.data.revision, "values": s.data.snapshot()})


async def one(request: web.Request) -> web.Response:
    s, name = service(request), request.match_info["name"]
    return web.json_response({"identifier": name, "value": s.data.value(name),
                              "revision": s.data.revision})


async def patch(request: web.Request) -> web.Response:
    """``{"changes": [{"element": [...], "value": v}, ...]}``: all applied, or none."""
    s, name = service(request), request.match_info["name"]
    s.data.decl(name)  # 404 before looking at the body
    raw = (await body(request)).get("changes")
    if not isinstance(raw, list) or not all(_is_change(c) for c in raw):
        raise _bad("expected {\"changes\": [{\"element\": [names], \"value\": v}, ...]}")
    await s.change(name, [(tuple(c["element"]), c.get("value")) for c in raw])
    return await one(request)


def _is_change(change: Any) -> bool:
    return (isinstance(change, dict) and isinstance(change.get("element"), list)
            and all(isinstance(e, str) for e in change["element"]))


async def put(request: web.Request) -> web.Response:
    """``{"value": v}`` replaces the whole identifier (sets: their elements)."""
    s, name = service(request), request.match_info["name"]
    s.data.decl(name)
    found = await body(request)
    if "value" not in found:
        raise _bad("expected {\"value\": ...}")
    await s.replace_identifier(name, found["value"])
    return await one(request)


# --- procedures, jobs, cases -------------------------------------------------------------


async def run_procedure(request: web.Request) -> web.Response:
    outcome = await service(request).run_procedure(request.match_info["name"])
    return web.json_response(outcome, status=202 if "job" in outcome else 200)


async def cancel_job(request: web.Request) -> web.Response:
    return web.json_response(await service(request).cancel_job())


async def list_cases(request: web.Request) -> web.Response:
    found = await service(request).platform.list_cases()
    return web.json_response(found.model_dump())


async def open_case(request: web.Request) -> web.Response:
    case_id = (await body(request)).get("case_id")
    if not isinstance(case_id, str) or not case_id:
        raise _bad("expected {\"case_id\": \"...\"}")
    await service(request).open(case_id)
    return web.json_response(service(request).status())


async def save_case(request: web.Request) -> web.Response:
    await service(request).save()
    return web.json_response(service(request).status())


async def save_case_as(request: web.Request) -> web.Response:
    name = (await body(request)).get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise _bad("expected {\"name\": \"...\"} (1 to 200 characters)")
    await service(request).save(name.strip(), new=True)
    return web.json_response(service(request).status())


async def upload_case(request: web.Request) -> web.Response:
    """The body is a case file (e.g. from the user's disk); 413 above the size limit."""
    if (request.content_length or 0) > MAX_CONTENT_BYTES:
        return error(413, "too_large", f"a case may hold at most {MAX_CONTENT_BYTES} bytes")
    await service(request).load_bytes(await request.read())
    return web.json_response(service(request).status())


async def download_case(request: web.Request) -> web.Response:
    s = service(request)
    name = (s.case.name or s.loaded.app.name).replace('"', "")
    return web.Response(body=s.data.case_bytes(), content_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{name}.mpcase"'})


async def status(request: web.Request) -> web.Response:
    return web.json_response(service(request).status())


# --- live ------------------------------------------------------------------------------


async def live(request: web.Request) -> web.WebSocketResponse:
    """Sends ``hello`` with the status, then ``data_changed``, ``job``, ``case``,
    ``notice`` and ``autosaved`` messages; answers ``{"type":"ping"}`` with ``pong``."""
    s = service(request)
    socket = web.WebSocketResponse(heartbeat=20.0)
    await socket.prepare(request)
    await socket.send_json({"type": "hello", **s.status()})
    s.hub.add(socket)
    try:
        async for message in socket:
            s.touch()
            if message.type == WSMsgType.TEXT and '"ping"' in message.data:
                await socket.send_json({"type": "pong", "revision": s.data.revision})
    finally:
        s.hub.discard(socket)
    return socket


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "api/app", describe),
    ("GET", "api/status", status),
    ("GET", "api/data", all_data),
    ("GET", "api/data/{name}", one),
    ("PATCH", "api/data/{name}", patch),
    ("PUT", "api/data/{name}", put),
    ("POST", "api/procedures/{name}", run_procedure),
    ("POST", "api/job/cancel", cancel_job),
    ("GET", "api/cases", list_cases),
    ("POST", "api/case/open", open_case),
    ("POST", "api/case/save", save_case),
    ("POST", "api/case/save-as", save_case_as),
    ("PUT", "api/case", upload_case),
    ("GET", "api/case/download", download_case),
    ("GET", "ws", live),
]


def normalise_base(base_path: str) -> str:
    """``/s/abc`` → ``/s/abc/``; always starts and ends with one slash."""
    return "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"


def make_app(session: SessionService, base_path: str = "/") -> web.Application:
    """The aiohttp application of ``session`` under ``base_path`` (and ``/``)."""
    app = web.Application(client_max_size=MAX_CONTENT_BYTES + MAX_JSON_BYTES,
                          middlewares=[headers_middleware, errors_middleware])
    app[SERVICE] = session
    base = normalise_base(base_path)
    for prefix in dict.fromkeys([base, "/"]):
        _add_routes(app.router, prefix)
    return app


def _add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_get(prefix, index)
    if prefix != "/":
        router.add_get(prefix.rstrip("/"), index)
    router.add_static(prefix + "static", WEBUI / "static", append_version=False)
    for method, path, handler in ROUTES:
        router.add_route(method, prefix + path, handler)
    for path in dict.fromkeys(path for _, path, _ in ROUTES):
        router.add_route("OPTIONS", prefix + path, _preflight)


async def _preflight(request: web.Request) -> web.Response:
    return web.Response(status=204)
