"""The admin pages under ``/admin`` (admins only; to anyone else they do not exist: 404),
with one admin navigation: users, groups, everyone's sessions and jobs, Docker hosts, usage
and the audit log. Each page calls the backend's methods as the signed-in admin (the backend
decides again); forms POST with the page's CSRF token and come back with a message.

This module holds the shared parts and the users and groups pages;
:mod:`portal_svc.pages.admin_work` the sessions, jobs, hosts and audit pages.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, get_args

import aiohttp_jinja2
from aiohttp import web

from common.contracts.base import Role
from common.contracts.groups import GroupMethods
from common.contracts.users import UserMethods
from common.errors import ModelportError, NotFound
from portal_svc import auth, web_session
from portal_svc.appkeys import BACKEND
from portal_svc.pages.site import page_caller, page_context

routes = web.RouteTableDef()
ADMIN = "/admin"
USERS_PAGE_SIZE = 100
ROLES = get_args(Role)
NAV = [("users", "Users", "/admin/users"), ("groups", "Groups", "/admin/groups"),
       ("apps", "App rights", "/admin/apps"),
       ("sessions", "Sessions", "/admin/sessions"), ("jobs", "Jobs", "/admin/jobs"),
       ("hosts", "Hosts", "/admin/hosts"), ("usage", "Usage", "/admin/usage"),
       ("audit", "Audit", "/admin/audit")]
"""The admin navigation: (key, label, path). Pages of other features add their entry here."""


async def admin_caller(request: web.Request) -> auth.Caller:
    """The signed-in admin; NotFound (404) for anyone else, so the pages do not exist to
    them; the login page for nobody signed in."""
    caller = await page_caller(request)
    if not caller.user.is_admin:
        raise NotFound("page not found")
    return caller


async def render(request: web.Request, caller: auth.Caller, section: str, template: str,
                 **extra: Any) -> web.StreamResponse:
    """An admin page: the main navigation's Admin entry current, ``section`` in the admin
    navigation."""
    context = await page_context(request, caller, "admin", admin_nav=NAV, section=section,
                                 **extra)
    return aiohttp_jinja2.render_template(template, request, context)


async def act(request: web.Request, call: Awaitable[Any], done: str, back: str) -> web.Response:
    """Await a form's backend ``call``; keep ``done`` (or the refusal's message) for the next
    page and go ``back``. A 5xx is raised, not shown as a message."""
    try:
        await call
    except ModelportError as exc:
        if exc.status >= 500:
            raise
        done = f"Refused: {exc.message}"
    await web_session.flash(request, done)
    raise web.HTTPSeeOther(back)


async def admin_form(request: web.Request) -> tuple[auth.Caller, dict[str, str]]:
    """The POSTed form (CSRF checked) and the admin who sent it."""
    form = await web_session.check_csrf(request)
    return await admin_caller(request), form


@routes.get(ADMIN)
async def admin_home(request: web.Request) -> web.StreamResponse:
    await admin_caller(request)
    raise web.HTTPFound("/admin/users")


@routes.get("/admin/users")
async def users_page(request: web.Request) -> web.StreamResponse:
    caller = await admin_caller(request)
    page = _page_number(request)
    found = await request.app[BACKEND].call(
        UserMethods.LIST, actor=caller.principal, limit=USERS_PAGE_SIZE,
        offset=(page - 1) * USERS_PAGE_SIZE)
    return await render(request, caller, "users", "admin_users.html", users=found.users,
                        total=found.total, page=page, page_size=USERS_PAGE_SIZE, roles=ROLES)


@routes.post("/admin/users")
async def create_user(request: web.Request) -> web.StreamResponse:
    caller, form = await admin_form(request)
    username = form.get("username", "").strip()
    call = request.app[BACKEND].call(
        UserMethods.CREATE, actor=caller.principal, username=username,
        password=form.get("password", ""), display_name=form.get("display_name", "").strip(),
        role=form.get("role", "user"))
    return await act(request, call, f"Created user {username}.", "/admin/users")


@routes.post("/admin/users/{username}/role")
async def set_role(request: web.Request) -> web.StreamResponse:
    caller, form = await admin_form(request)
    username, role = request.match_info["username"], form.get("role", "")
    call = request.app[BACKEND].call(UserMethods.SET_ROLE, actor=caller.principal,
                                     username=username, role=role)
    return await act(request, call, f"Role of {username}: {role}.", "/admin/users")


@routes.post("/admin/users/{username}/{change:disable|enable}")
async def set_disabled(request: web.Request) -> web.StreamResponse:
    caller, _ = await admin_form(request)
    username, change = request.match_info["username"], request.match_info["change"]
    call = request.app[BACKEND].call(UserMethods.SET_DISABLED, actor=caller.principal,
                                     username=username, disabled=change == "disable")
    return await act(request, call, f"Account {username} {change}d.", "/admin/users")


@routes.get("/admin/groups")
async def groups_page(request: web.Request) -> web.StreamResponse:
    caller = await admin_caller(request)
    found = await request.app[BACKEND].call(GroupMethods.LIST, actor=caller.principal)
    return await render(request, caller, "groups", "admin_groups.html", groups=found.groups)


@routes.post("/admin/groups")
async def create_group(request: web.Request) -> web.StreamResponse:
    caller, form = await admin_form(request)
    name = form.get("name", "").strip()
    call = request.app[BACKEND].call(GroupMethods.CREATE, actor=caller.principal, name=name)
    return await act(request, call, f"Created group {name}.", "/admin/groups")


@routes.post("/admin/groups/{group}/members")
async def add_member(request: web.Request) -> web.StreamResponse:
    caller, form = await admin_form(request)
    group, username = request.match_info["group"], form.get("username", "").strip()
    call = request.app[BACKEND].call(GroupMethods.ADD_MEMBER, actor=caller.principal,
                                     group=group, username=username)
    return await act(request, call, f"Added {username} to {group}.", "/admin/groups")


@routes.post("/admin/groups/{group}/members/{username}/remove")
async def remove_member(request: web.Request) -> web.StreamResponse:
    caller, _ = await admin_form(request)
    group, username = request.match_info["group"], request.match_info["username"]
    call = request.app[BACKEND].call(GroupMethods.REMOVE_MEMBER, actor=caller.principal,
                                     group=group, username=username)
    return await act(request, call, f"Removed {username} from {group}.", "/admin/groups")


def _page_number(request: web.Request) -> int:
    """``?page=N`` (from 1); a bad value reads as 1."""
    text = request.query.get("page", "1")
    return max(int(text), 1) if text.isdigit() else 1
