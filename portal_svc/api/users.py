"""``/api/v1/users``: list and create users. The backend decides who may (admins)."""

from __future__ import annotations

from aiohttp import web

from common.contracts.users import UserMethods
from portal_svc.api.models import CreateUserRequest, ListUsersQuery, User, UserPage
from portal_svc.api.relay import relay
from portal_svc.openapi import ApiRoutes

routes = ApiRoutes(tags=("users",))


@routes.route(
    "GET", "/api/v1/users", summary="List users (admins)", query=ListUsersQuery,
    response=UserPage, errors=(400, 403),
)
async def list_users(request: web.Request) -> web.Response:
    return await relay(request, UserMethods.LIST, UserPage, query=ListUsersQuery)


@routes.route(
    "POST", "/api/v1/users", summary="Create a user (admins)", request=CreateUserRequest,
    response=User, status=201, errors=(400, 403, 409, 413),
)
async def create_user(request: web.Request) -> web.Response:
    return await relay(request, UserMethods.CREATE, User, body=CreateUserRequest, status=201)
