"""``/api/v1/auth/*`` and ``/api/v1/me``: sign in for a token, see who you are, sign out."""

from __future__ import annotations

from aiohttp import web

from portal_svc import auth
from portal_svc.api.io import json_reply, read_json
from portal_svc.api.models import LoginRequest, LoginResponse, User
from portal_svc.openapi import ApiRoutes

routes = ApiRoutes(tags=("auth",))


@routes.route(
    "POST", "/api/v1/auth/login", summary="Sign in with a password and get an API token",
    request=LoginRequest, response=LoginResponse, errors=(400, 401, 413, 429), auth=False,
)
async def login(request: web.Request) -> web.Response:
    """Wrong password and unknown user get the same 401 answer. 429 (`signin_rate_limited`,
    `signin_locked`, `signin_busy`) with `Retry-After` when throttled (docs/security.md)."""
    body = await read_json(request, LoginRequest)
    issued = await auth.login(request, body.username, body.password.get_secret_value())
    token = issued.token.get_secret_value()
    return json_reply(LoginResponse(token=token, user=User.of(issued.user)))


@routes.route("GET", "/api/v1/me", summary="The signed-in user", response=User)
async def me(request: web.Request) -> web.Response:
    caller = await auth.api_caller(request)
    return json_reply(User.of(caller.user))


@routes.route("POST", "/api/v1/auth/logout", summary="Revoke the token of this request", status=204)
async def logout(request: web.Request) -> web.Response:
    caller = await auth.api_caller(request)
    await auth.revoke(request, caller.token)
    return web.Response(status=204)
