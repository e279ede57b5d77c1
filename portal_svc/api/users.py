"""``/api/v1/users``: list and create users. The backend decides who may (admins)."""

from __future__ import annotations

from aiohttp import web

from portal_svc import auth
from portal_svc.api.io import json_reply, read_json, read_query
from portal_svc.api.models import CreateUserRequest, ListUsersQuery, User, UserPage
from portal_svc.appkeys import BACKEND
from portal_svc.openapi import ApiRoutes

routes = ApiRoutes(tags=("users",))


@routes.route(
    "GET", "/api/v1/users", summary="List users (admins)", query=ListUsersQuery,
    response=UserPage, errors=(400, 403),
)
async def list_users(request: web.Request) -> web.Response:
    caller = await auth.api_caller(request)
    query = read_query(request, ListUsersQuery)
    page = await request.app[BACKEND].list_users(
        caller.principal, limit=query.limit, offset=query.offset
    )
    return json_reply(UserPage(users=[User.from_contract(u) for u in page.users], total=page.total))


@routes.route(
    "POST", "/api/v1/users", summary="Create a user (admins)", request=CreateUserRequest,
    response=User, status=201, errors=(400, 403, 409, 413),
)
async def create_user(request: web.Request) -> web.Response:
    caller = await auth.api_caller(request)
    body = await read_json(request, CreateUserRequest)
    user = await request.app[BACKEND].create_user(
        caller.principal, username=body.username, password=body.password.get_secret_value(),
        display_name=body.display_name, is_admin=body.is_admin,
    )
    return json_reply(User.from_contract(user), status=201)
