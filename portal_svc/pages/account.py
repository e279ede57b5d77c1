"""The account page (``/account``): personal API tokens (make one: its secret is shown on the
answering page only, never kept; list; revoke), "sign out everywhere" and changing the
password. Every form carries the session's CSRF token; the calls are the API's declared
methods, made as the signed-in user."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from common.contracts.methods import TokenMethods, UserMethods
from common.contracts.tokens import SCOPES
from common.errors import ModelportError
from portal_svc import web_session
from portal_svc.appkeys import BACKEND
from portal_svc.auth import Caller
from portal_svc.live.revocation import revoked_here
from portal_svc.pages.site import LOGIN_PATH, page_caller, page_context

routes = web.RouteTableDef()
ACCOUNT_PATH = "/account"
FORM_ERRORS = (400, 403, 404, 409, 429)


async def _render(request: web.Request, caller: Caller, *, status: int = 200,
                  **extra: Any) -> web.StreamResponse:
    listed = await request.app[BACKEND].call(TokenMethods.LIST, actor=caller.principal)
    context = await page_context(request, caller, "account", tokens=listed.tokens,
                                 scopes=SCOPES, **extra)
    return aiohttp_jinja2.render_template("account.html", request, context, status=status)


@routes.get(ACCOUNT_PATH)
async def account_page(request: web.Request) -> web.StreamResponse:
    return await _render(request, await page_caller(request))


@routes.post(ACCOUNT_PATH + "/tokens")
async def create_token(request: web.Request) -> web.StreamResponse:
    """Make a token and show its secret on this answer only (no redirect: it is not kept)."""
    caller = await page_caller(request)
    form = await web_session.check_csrf(request)
    days = form.get("expires_in_days", "").strip()
    try:
        made = await request.app[BACKEND].call(
            TokenMethods.CREATE, actor=caller.principal, name=form.get("name", "").strip(),
            scope=form.get("scope", ""), expires_in_days=int(days) if days.isdigit() else None)
    except ModelportError as exc:
        return await _refused(request, caller, exc)
    return await _render(request, caller, status=201, created=made,
                         secret=made.token.get_secret_value())


@routes.post(ACCOUNT_PATH + "/tokens/{token_id}/revoke")
async def revoke_token(request: web.Request) -> web.StreamResponse:
    caller = await page_caller(request)
    await web_session.check_csrf(request)
    revoked = await request.app[BACKEND].call(
        TokenMethods.REVOKE, actor=caller.principal, token_id=request.match_info["token_id"])
    revoked_here(request, revoked.user_id, [revoked.id], "revoked")
    await web_session.flash(request, f"Token “{revoked.name}” revoked.")
    raise web.HTTPSeeOther(ACCOUNT_PATH)


@routes.post(ACCOUNT_PATH + "/password")
async def change_password(request: web.Request) -> web.StreamResponse:
    caller = await page_caller(request)
    form = await web_session.check_csrf(request)
    try:
        await request.app[BACKEND].call(
            UserMethods.CHANGE_PASSWORD, actor=caller.principal,
            current_password=form.get("current_password", ""),
            new_password=form.get("new_password", ""))
    except ModelportError as exc:
        return await _refused(request, caller, exc)
    await web_session.flash(request, "Password changed.")
    raise web.HTTPSeeOther(ACCOUNT_PATH)


@routes.post(ACCOUNT_PATH + "/sign-out-everywhere")
async def sign_out_everywhere(request: web.Request) -> web.StreamResponse:
    """Revoke every token of the user, this browser's session included, and sign out here."""
    caller = await page_caller(request)
    await web_session.check_csrf(request)
    await request.app[BACKEND].call(TokenMethods.SIGN_OUT_EVERYWHERE, actor=caller.principal)
    revoked_here(request, caller.user.id, None, "sign_out_everywhere")
    await web_session.end_session(request)
    raise web.HTTPSeeOther(LOGIN_PATH)


async def _refused(request: web.Request, caller: Caller,
                   exc: ModelportError) -> web.StreamResponse:
    """The page again with the refusal's message (a field, a wrong password, a limit)."""
    if exc.status not in FORM_ERRORS:
        raise exc
    return await _render(request, caller, status=exc.status, error=exc.message)
