"""The portal's edge: request ids, errors turned into statuses, and security headers.

Under ``/api/`` every error is JSON ``{"error": {"code", "message"}}`` (plus ``details``
when the refusal has facts to name, such as a quota's ``quota``, ``limit`` and ``used``);
browser pages get an HTML error page instead, and a page that needs a sign-in redirects to
``/login``.
"""

from __future__ import annotations

import re
import time
import uuid
from http import HTTPStatus

import aiohttp_jinja2
import structlog
from aiohttp import web

from common.errors import ModelportError, TooManyRequests
from common.logging import bind_correlation
from portal_svc.appkeys import JSON_ERRORS, REQUEST_ID
from portal_svc.openapi import Handler
from portal_svc.transport import TRANSPORT
from portal_svc.web_session import COOKIE_NAME

log = structlog.get_logger(__name__)
REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
INTERNAL_MESSAGE = "internal error; quote the request id when reporting it"
_HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type"}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
}


def is_api(request: web.Request) -> bool:
    """Whether errors get JSON: the API, and page views called by scripts (``JSON_ERRORS``)."""
    return request.path.startswith("/api/") or request.get(JSON_ERRORS, False)


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Take a sane incoming X-Request-ID or make one; bind it so RPC calls forward it."""
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    started = time.monotonic()
    status = 500
    with bind_correlation(request_id, method=request.method, path=request.path):
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            elapsed_ms = round((time.monotonic() - started) * 1000, 1)
            log.info("http_request", status=status, ms=elapsed_ms)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into the right status with a body fit for its audience."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _http_error(request, exc)
    except ModelportError as exc:
        log.info("request_refused", code=exc.code, status=exc.status)
        response = _error(request, exc.status, exc.code, exc.message, exc.details)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    except Exception:
        log.exception("request_failed")
        return _error(request, 500, "internal", INTERNAL_MESSAGE)


def _http_error(request: web.Request, exc: web.HTTPException) -> web.StreamResponse:
    code = _HTTP_CODES.get(exc.status, HTTPStatus(exc.status).phrase.lower().replace(" ", "_"))
    message = exc.reason
    if exc.status == 413:
        message = "the request body is too large"
    response = _error(request, exc.status, code, message)
    for name in ("Allow", "WWW-Authenticate"):
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response


def _error(
    request: web.Request, status: int, code: str, message: str,
    details: dict[str, object] | None = None,
) -> web.StreamResponse:
    if is_api(request):
        error: dict[str, object] = {"code": code, "message": message}
        if details is not None:
            error["details"] = details
        response = web.json_response({"error": error}, status=status)
        if status == 401 and request.path.startswith("/api/"):
            response.headers["WWW-Authenticate"] = "Bearer"
        return response
    if status == 401:
        raise web.HTTPSeeOther("/login")
    return _error_page(request, status, message)


def _error_page(request: web.Request, status: int, message: str) -> web.StreamResponse:
    context = {
        "status": status,
        "title": HTTPStatus(status).phrase,
        "message": message,
        "request_id": request.get(REQUEST_ID, ""),
    }
    return aiohttp_jinja2.render_template("error.html", request, context, status=status)


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: echo the request id and add security headers to every reply;
    over https the session cookie is Secure and HSTS is sent (:mod:`portal_svc.transport`)."""
    request_id = request.get(REQUEST_ID)
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if TRANSPORT in request.app:
        request.app[TRANSPORT].secure_reply(request, response, COOKIE_NAME)
