"""``/api/v1/users``: list and create users, set their role. The backend decides who may
(admins)."""

from __future__ import annotations

from aiohttp import web

from common.contracts.methods import UserMethods
from portal_svc.api.models import (
    CreateUserRequest,
    ListUsersQuery,
    SetRoleRequest,
    User,
    UserPage,
)
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


@routes.route(
    "PUT", "/api/v1/users/{username}/role", summary="Set a user's role (admins)",
    request=SetRoleRequest, response=User, errors=(400, 403, 404, 409, 413),
)
async def set_role(request: web.Request) -> web.Response:
    """`admin`, `publisher` (may create apps and publish those they have publish rights on) or
    `user`. 404 `unknown_user`; 409 `last_admin` when it would leave no admin."""
    return await relay(request, UserMethods.SET_ROLE, User, body=SetRoleRequest)
