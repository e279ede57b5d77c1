"""``/api/v1/sessions``: open, list, show and stop data sessions. A session's pages are at
its ``url`` (``/s/{id}/``, the portal's proxy)."""

from __future__ import annotations

from aiohttp import web

from common.contracts.methods import SessionMethods
from portal_svc.api.idempotency import idempotency_key
from portal_svc.api.io import json_reply
from portal_svc.api.relay import call_as_caller, relay
from portal_svc.api.sessions_models import (
    CreateSessionRequest,
    ListSessionsQuery,
    Session,
    SessionPage,
)
from portal_svc.openapi import ApiRoutes

routes = ApiRoutes(tags=("sessions",))
SESSION = "/api/v1/sessions/{session_id}"


@routes.route("POST", "/api/v1/sessions", summary="Open a data session of an app",
              request=CreateSessionRequest, response=Session, status=201,
              errors=(400, 404, 429))
async def create_session(request: web.Request) -> web.Response:
    """Answers at once (201, state `requested`, `Location` of the session); follow its `state`
    until `ready`, then open its `url`. 404 for an unknown app or version, or a case you may
    not read; 400 `case_app_mismatch` for a case of another app; 429 `quota_exceeded`
    (`details.quota` = `sessions`) when you hold as many sessions as your quota allows.
    Nothing is created on any refusal.

    With an `Idempotency-Key` header (yours, kept at least 24 h), a retry of the same
    request answers the session of the first try (201, same id, its current state) instead
    of opening another; the same key with a different request is refused with 409
    `idempotency_key_reused`; a malformed key with 400 `bad_idempotency_key`."""
    session = await call_as_caller(request, SessionMethods.CREATE, body=CreateSessionRequest,
                                   idempotency_key=idempotency_key(request))
    return json_reply(Session.of(session), status=201,
                      location=f"/api/v1/sessions/{session.id}")


@routes.route("GET", "/api/v1/sessions", summary="List your sessions (anyone's for an admin)",
              query=ListSessionsQuery, response=SessionPage, errors=(400,))
async def list_sessions(request: web.Request) -> web.Response:
    """Newest first; `total` counts every session matching the filters."""
    return await relay(request, SessionMethods.LIST, SessionPage, query=ListSessionsQuery)


@routes.route("GET", SESSION, summary="Show a session", response=Session, errors=(404,))
async def get_session(request: web.Request) -> web.Response:
    """404 for a session that does not exist or is someone else's."""
    return await relay(request, SessionMethods.GET, Session)


@routes.route("DELETE", SESSION, summary="Stop a session", response=Session, errors=(404,))
async def stop_session(request: web.Request) -> web.Response:
    """Its data is autosaved, then it stops (`stopping`, then `stopped`). Stopping a session
    that is over changes nothing. 404 for someone else's."""
    return await relay(request, SessionMethods.STOP, Session)
