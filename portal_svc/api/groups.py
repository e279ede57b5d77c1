"""``/api/v1/groups``: the groups cases are shared with."""

from __future__ import annotations

from aiohttp import web

from common.contracts.methods import GroupMethods
from portal_svc.api.registry_models import AddMemberRequest, CreateGroupRequest, Group, GroupList
from portal_svc.api.relay import relay
from portal_svc.openapi import ApiRoutes

routes = ApiRoutes(tags=("groups",))


@routes.route("POST", "/api/v1/groups", summary="Create a group (admins)",
              request=CreateGroupRequest, response=Group, status=201, errors=(400, 403, 409, 413))
async def create_group(request: web.Request) -> web.Response:
    return await relay(request, GroupMethods.CREATE, Group, body=CreateGroupRequest, status=201)


@routes.route("POST", "/api/v1/groups/{name}/members", summary="Add a member (admins)",
              request=AddMemberRequest, response=Group, errors=(400, 403, 404, 413))
async def add_member(request: web.Request) -> web.Response:
    return await relay(request, GroupMethods.ADD_MEMBER, Group, body=AddMemberRequest,
                       group=request.match_info["name"])


@routes.route("GET", "/api/v1/groups", summary="List groups (admins: all; others: their own)",
              response=GroupList)
async def list_groups(request: web.Request) -> web.Response:
    return await relay(request, GroupMethods.LIST, GroupList)
