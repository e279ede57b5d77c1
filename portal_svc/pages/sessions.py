"""The browser's way to sessions and jobs of an app: **Open** and **Run as job** on the Apps
page, the Sessions page (state, app, started, idle for, stop), a session's page (its state,
why it failed or was lost, open it, reopen from its autosave) and the dashboard's list.

Forms POST with the page's CSRF token; a refusal comes back as a message on the page.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from common.contracts.methods import JobMethods, SessionMethods
from common.contracts.sessions import SessionOut
from common.errors import ModelportError
from portal_svc.api.sessions_models import Session
from portal_svc.appkeys import BACKEND
from portal_svc.pages.site import flash_and_go, form_caller, page_caller, page_context

routes = web.RouteTableDef()
SESSIONS_PAGE = "/sessions"


def shown(session: SessionOut) -> Session:
    """The session as pages show it (its url, idle time)."""
    return Session.of(session)


async def live_sessions(request: web.Request, caller: Any, limit: int = 10) -> list[Session]:
    """The caller's sessions that are not over (the dashboard's list)."""
    page = await request.app[BACKEND].call(SessionMethods.LIST, actor=caller.principal,
                                              live=True, limit=limit)
    return [shown(s) for s in page.sessions]


@routes.get(SESSIONS_PAGE)
async def sessions_page(request: web.Request) -> web.StreamResponse:
    caller = await page_caller(request)
    page = await request.app[BACKEND].call(SessionMethods.LIST, actor=caller.principal, limit=100)
    context = await page_context(request, caller, "sessions",
                                 sessions=[shown(s) for s in page.sessions], total=page.total)
    return aiohttp_jinja2.render_template("sessions.html", request, context)


@routes.post(SESSIONS_PAGE)
async def open_session(request: web.Request) -> web.StreamResponse:
    """The **Open** button: request a session, then show its page (which follows it)."""
    caller, form = await form_caller(request)
    try:
        session = await request.app[BACKEND].call(
            SessionMethods.CREATE, actor=caller.principal, app=form.get("app", ""),
            case_id=form.get("case_id") or None)
    except ModelportError as exc:
        if exc.status >= 500:
            raise
        await flash_and_go(request, f"Could not open {form.get('app', '')}: {exc.message}",
                           form.get("back") or "/apps")
    raise web.HTTPSeeOther(f"{SESSIONS_PAGE}/{session.id}")


@routes.get(SESSIONS_PAGE + "/{session_id}")
async def session_page(request: web.Request) -> web.StreamResponse:
    caller = await page_caller(request)
    session = await request.app[BACKEND].call(SessionMethods.GET, actor=caller.principal,
                         session_id=request.match_info["session_id"])
    context = await page_context(request, caller, "sessions", session=shown(session))
    return aiohttp_jinja2.render_template("session.html", request, context)


@routes.post(SESSIONS_PAGE + "/{session_id}/stop")
async def stop_session(request: web.Request) -> web.StreamResponse:
    caller, form = await form_caller(request)
    session = await request.app[BACKEND].call(SessionMethods.STOP, actor=caller.principal,
                         session_id=request.match_info["session_id"])
    await flash_and_go(request, f"Stopping the {session.app} session; its data is saved.",
                       form.get("back") or f"{SESSIONS_PAGE}/{session.id}")


@routes.post("/jobs/run")
async def run_as_job(request: web.Request) -> web.StreamResponse:
    """The **Run as job** form: procedure, case and priority; then the job's page."""
    caller, form = await form_caller(request)
    try:
        priority = int(form.get("priority") or 0)
        job = await request.app[BACKEND].call(
            JobMethods.SUBMIT, actor=caller.principal, app=form.get("app", ""),
            procedure=form.get("procedure") or "", input_case_id=form.get("case_id") or None,
            priority=priority)
    except (ModelportError, ValueError) as exc:
        if isinstance(exc, ModelportError) and exc.status >= 500:
            raise
        message = exc.message if isinstance(exc, ModelportError) else "priority: a whole number"
        await flash_and_go(request, f"Could not run {form.get('app', '')}: {message}", "/apps")
    raise web.HTTPSeeOther(f"/jobs/{job.id}")
