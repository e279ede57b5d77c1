"""The admin pages under ``/admin`` (admins only; to anyone else they do not exist: 404),
with one admin navigation: users, groups, everyone's sessions and jobs, Docker hosts, usage
and the audit log. Each page calls the backend's methods as the signed-in admin (the backend
decides again); forms POST with the page's CSRF token and come back with a message.

This module holds the shared parts and the users and groups pages;
:mod:`portal_svc.pages.admin_work` the sessions, jobs, hosts and audit pages.
"""

from __future__ import annotations

from typing import Any, get_args

import aiohttp_jinja2
from aiohttp import web

from common.contracts.base import Role
from common.contracts.method import AnyMethod
from common.contracts.methods import GroupMethods, UserMethods
from common.errors import ModelportError, NotFound
from portal_svc import auth, web_session
from portal_svc.appkeys import BACKEND
from portal_svc.pages.site import page_caller, page_context

routes = web.RouteTableDef()
ADMIN = "/admin"
USERS_PAGE = "/admin/users"
GROUPS_PAGE = "/admin/groups"
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


async def act(request: web.Request, caller: auth.Caller, method: AnyMethod, done: str,
              back: str, **fields: Any) -> web.Response:
    """A form's change: call the backend's ``method`` with ``fields`` as ``caller``; keep
    ``done`` (or the refusal's message) for the next page and go ``back``. A 5xx is raised,
    not shown as a message."""
    try:
        await request.app[BACKEND].call(method, actor=caller.principal, **fields)
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
    raise web.HTTPFound(USERS_PAGE)


@routes.get(USERS_PAGE)
async def users_page(request: web.Request) -> web.StreamResponse:
    caller = await admin_caller(request)
    page = _page_number(request)
    found = await request.app[BACKEND].call(
        UserMethods.LIST, actor=caller.principal, limit=USERS_PAGE_SIZE,
        offset=(page - 1) * USERS_PAGE_SIZE)
    return await render(request, caller, "users", "admin_users.html", users=found.users,
                        total=found.total, page=page, page_size=USERS_PAGE_SIZE, roles=ROLES)


@routes.post(USERS_PAGE)
async def create_user(request: web.Request) -> web.StreamResponse:
    caller, form = await admin_form(request)
    username = form.get("username", "").strip()
    return await act(
        request, caller, UserMethods.CREATE, f"Created user {username}.", USERS_PAGE,
        username=username, password=form.get("password", ""),
        display_name=form.get("display_name", "").strip(), role=form.get("role", "user"))


@routes.post("/admin/users/{username}/role")
async def set_role(request: web.Request) -> web.StreamResponse:
    caller, form = await admin_form(request)
    username, role = request.match_info["username"], form.get("role", "")
    return await act(request, caller, UserMethods.SET_ROLE, f"Role of {username}: {role}.",
                     USERS_PAGE, username=username, role=role)


@routes.post("/admin/users/{username}/{change:disable|enable}")
async def set_disabled(request: web.Request) -> web.StreamResponse:
    caller, _ = await admin_form(request)
    username, change = request.match_info["username"], request.match_info["change"]
    return await act(request, caller, UserMethods.SET_DISABLED, f"Account {username} {change}d.",
                     USERS_PAGE, username=username, disabled=change == "disable")


@routes.get(GROUPS_PAGE)
async def groups_page(request: web.Request) -> web.StreamResponse:
    caller = await admin_caller(request)
    found = await request.app[BACKEND].call(GroupMethods.LIST, actor=caller.principal)
    return await render(request, caller, "groups", "admin_groups.html", groups=found.groups)


@routes.post(GROUPS_PAGE)
async def create_group(request: web.Request) -> web.StreamResponse:
    caller, form = await admin_form(request)
    name = form.get("name", "").strip()
    return await act(request, caller, GroupMethods.CREATE, f"Created group {name}.", GROUPS_PAGE,
                     name=name)


@routes.post("/admin/groups/{group}/members")
async def add_member(request: web.Request) -> web.StreamResponse:
    caller, form = await admin_form(request)
    group, username = request.match_info["group"], form.get("username", "").strip()
    return await act(request, caller, GroupMethods.ADD_MEMBER, f"Added {username} to {group}.",
                     GROUPS_PAGE, group=group, username=username)


@routes.post("/admin/groups/{group}/members/{username}/remove")
async def remove_member(request: web.Request) -> web.StreamResponse:
    caller, _ = await admin_form(request)
    group, username = request.match_info["group"], request.match_info["username"]
    return await act(request, caller, GroupMethods.REMOVE_MEMBER,
                     f"Removed {username} from {group}.", GROUPS_PAGE, group=group,
                     username=username)


def _page_number(request: web.Request) -> int:
    """``?page=N`` (from 1); a bad value reads as 1."""
    text = request.query.get("page", "1")
    return max(int(text), 1) if text.isdigit() else 1
