"""``/api/v1/groups``: the groups cases are shared with."""

from __future__ import annotations

from aiohttp import web

from portal_svc import auth
from portal_svc.api.io import json_reply, read_json
from portal_svc.api.registry_models import AddMemberRequest, CreateGroupRequest, Group, GroupList
from portal_svc.appkeys import BACKEND
from portal_svc.openapi import ApiRoutes

routes = ApiRoutes(tags=("groups",))


@routes.route("POST", "/api/v1/groups", summary="Create a group (admins)",
              request=CreateGroupRequest, response=Group, status=201, errors=(400, 403, 409, 413))
async def create_group(request: web.Request) -> web.Response:
    caller = await auth.api_caller(request)
    body = await read_json(request, CreateGroupRequest)
    group = await request.app[BACKEND].create_group(caller.principal, body.name)
    return json_reply(Group.of(group), status=201)


@routes.route("POST", "/api/v1/groups/{name}/members", summary="Add a member (admins)",
              request=AddMemberRequest, response=Group, errors=(400, 403, 404, 413))
async def add_member(request: web.Request) -> web.Response:
    caller = await auth.api_caller(request)
    body = await read_json(request, AddMemberRequest)
    group = await request.app[BACKEND].add_group_member(
        caller.principal, request.match_info["name"], body.username
    )
    return json_reply(Group.of(group))


@routes.route("GET", "/api/v1/groups", summary="List groups (admins: all; others: their own)",
              response=GroupList)
async def list_groups(request: web.Request) -> web.Response:
    caller = await auth.api_caller(request)
    return json_reply(GroupList.of(await request.app[BACKEND].list_groups(caller.principal)))
