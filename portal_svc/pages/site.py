"""Server-rendered browser pages: sign in, the dashboard, sign out; helpers for every page.

Pages keep the API token in the encrypted session cookie and resolve it through the backend on
every request; a page without a valid session redirects to ``/login``.
"""

from __future__ import annotations

from typing import Any, NoReturn

import aiohttp_jinja2
import structlog
from aiohttp import web

from common.contracts.methods import JobMethods, RegistryMethods, SessionMethods
from common.errors import BadRequest, ModelportError, Unauthenticated
from portal_svc import auth, web_session
from portal_svc.api.sessions_models import Session
from portal_svc.appkeys import BACKEND, JSON_ERRORS, SETTINGS

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()
LOGIN_PATH = "/login"
HOME_PATH = "/"
DASHBOARD_JOBS = 5


async def page_context(
    request: web.Request, caller: auth.Caller, active: str, **extra: Any
) -> dict[str, Any]:
    """What every signed-in page renders with: the caller, the CSRF token, a kept message
    and which navigation link is current."""
    return {
        "caller": caller, "csrf_token": await web_session.csrf_token(request),
        "flash": await web_session.pop_flash(request), "active": active, **extra,
    }


async def xhr_caller(request: web.Request) -> auth.Caller:
    """The signed-in user of a script's request from a page (an upload). Its errors are JSON
    (401 without a session, 403 ``csrf_failed`` without the page's CSRF header)."""
    request[JSON_ERRORS] = True
    await web_session.check_csrf_header(request)
    return await auth.resolve(request, await web_session.session_token(request))


async def form_caller(request: web.Request) -> tuple[auth.Caller, dict[str, str]]:
    """The signed-in user of a page's POSTed form and the form, once its CSRF field matched
    (403 ``csrf_failed`` otherwise; redirects to the login page without a session)."""
    form = await web_session.check_csrf(request)
    return await page_caller(request), form


async def flash_and_go(request: web.Request, message: str, where: str) -> NoReturn:
    """Show ``message`` on the next page and send the browser to ``where`` (303)."""
    await web_session.flash(request, message)
    raise web.HTTPSeeOther(where)


async def page_caller(request: web.Request) -> auth.Caller:
    """The signed-in user of a page request; redirects to the login page otherwise."""
    token = await web_session.session_token(request)
    if token is None:
        raise web.HTTPFound(LOGIN_PATH)
    try:
        return await auth.resolve(request, token)
    except Unauthenticated:
        await web_session.end_session(request)
        raise web.HTTPFound(LOGIN_PATH) from None


@routes.get(LOGIN_PATH)
async def login_form(request: web.Request) -> web.StreamResponse:
    if await web_session.session_token(request):
        raise web.HTTPFound(HOME_PATH)
    return await render_login(request)


@routes.post(LOGIN_PATH)
async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await web_session.check_csrf(request)
    username, password = form.get("username", "").strip(), form.get("password", "")
    if not username or not password:
        return await render_login(request, "Enter your username and password.", username, 400)
    try:
        issued = await auth.login(request, username, password)
    except ModelportError as exc:
        if exc.status not in (BadRequest.status, Unauthenticated.status):
            raise
        return await render_login(request, exc.message, username, exc.status)
    await web_session.start_signed_in(request, issued.token.get_secret_value())
    log.info("page_login", user_id=issued.user.id)
    raise web.HTTPSeeOther(HOME_PATH)


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    await web_session.check_csrf(request)
    token = await web_session.session_token(request)
    if token is not None:
        try:
            await auth.revoke(request, token)
        except ModelportError as exc:  # the session ends anyway; the token expires on its own
            log.warning("logout_revoke_failed", code=exc.code)
    await web_session.end_session(request)
    raise web.HTTPSeeOther(LOGIN_PATH)


@routes.get(HOME_PATH)
async def dashboard(request: web.Request) -> web.StreamResponse:
    caller = await page_caller(request)
    apps = await request.app[BACKEND].call(RegistryMethods.LIST_APPS, actor=caller.principal)
    recent = await request.app[BACKEND].call(
        JobMethods.LIST, actor=caller.principal, limit=DASHBOARD_JOBS)
    live = await request.app[BACKEND].call(SessionMethods.LIST, actor=caller.principal,
                                    live=True, limit=DASHBOARD_JOBS)
    context = await page_context(request, caller, "dashboard", apps=apps.apps, jobs=recent.jobs,
                                 sessions=[Session.of(s) for s in live.sessions])
    return aiohttp_jinja2.render_template("dashboard.html", request, context)


async def render_login(
    request: web.Request, error: str | None = None, username: str = "", status: int = 200
) -> web.StreamResponse:
    """The login page (with "Sign in with <provider>" when single sign-on is configured)."""
    settings = request.app[SETTINGS]
    context = {
        "csrf_token": await web_session.csrf_token(request),
        "error": error,
        "username": username,
        "sso_name": settings.oidc_provider_name if settings.oidc_enabled else None,
    }
    return aiohttp_jinja2.render_template("login.html", request, context, status=status)
