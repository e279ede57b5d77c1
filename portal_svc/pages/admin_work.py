"""Admin pages of the work that runs: everyone's sessions (stop) and jobs (cancel), the
Docker hosts with their load (drain, return) and the audit log (filters, older pages).
Shared parts: :mod:`portal_svc.pages.admin`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from common.contracts.methods import AdminMethods, JobMethods, SessionMethods
from common.errors import ModelportError
from portal_svc.appkeys import BACKEND
from portal_svc.pages.admin import act, admin_caller, admin_form, render

routes = web.RouteTableDef()

WORK_PAGE_SIZE = 100
AUDIT_PAGE_SIZE = 50
AUDIT_FILTERS = ("actor_name", "action", "target", "since", "until")


@routes.get("/admin/sessions")
async def sessions_page(request: web.Request) -> web.StreamResponse:
    caller = await admin_caller(request)
    live = request.query.get("all") != "1"
    found = await request.app[BACKEND].call(SessionMethods.LIST, actor=caller.principal,
                                            live=live, limit=WORK_PAGE_SIZE)
    return await render(request, caller, "sessions", "admin_sessions.html",
                        sessions=found.sessions, total=found.total, live=live)


@routes.post("/admin/sessions/{session_id}/stop")
async def stop_session(request: web.Request) -> web.StreamResponse:
    caller, _ = await admin_form(request)
    return await act(request, caller, SessionMethods.STOP,
                     "Stopping the session; its data is saved.", "/admin/sessions",
                     session_id=request.match_info["session_id"])


@routes.get("/admin/jobs")
async def jobs_page(request: web.Request) -> web.StreamResponse:
    caller = await admin_caller(request)
    state = request.query.get("state") or None
    found = await request.app[BACKEND].call(JobMethods.LIST, actor=caller.principal,
                                            state=state, limit=WORK_PAGE_SIZE)
    return await render(request, caller, "jobs", "admin_jobs.html", jobs=found.jobs,
                        total=found.total, state=state or "")


@routes.post("/admin/jobs/{job_id}/cancel")
async def cancel_job(request: web.Request) -> web.StreamResponse:
    caller, _ = await admin_form(request)
    return await act(request, caller, JobMethods.CANCEL, "Cancelling the job.", "/admin/jobs",
                     job_id=request.match_info["job_id"])


@routes.get("/admin/hosts")
async def hosts_page(request: web.Request) -> web.StreamResponse:
    caller = await admin_caller(request)
    found = await request.app[BACKEND].call(AdminMethods.HOSTS, actor=caller.principal)
    return await render(request, caller, "hosts", "admin_hosts.html", hosts=found.hosts)


@routes.post("/admin/hosts/{name}/{action:drain|return}")
async def drain_or_return(request: web.Request) -> web.StreamResponse:
    caller, _ = await admin_form(request)
    name, action = request.match_info["name"], request.match_info["action"]
    method = AdminMethods.DRAIN_HOST if action == "drain" else AdminMethods.RETURN_HOST
    done = (f"Drained {name}: no new work goes there; running work finishes."
            if action == "drain" else f"Returned {name}: it takes new work again.")
    return await act(request, caller, method, done, "/admin/hosts", name=name)


@routes.get("/admin/audit")
async def audit_page(request: web.Request) -> web.StreamResponse:
    """Filters from the query (empty ones ignored; times as UTC), newest first; ``before``
    pages older. A filter the backend refuses comes back as a message on the page."""
    caller = await admin_caller(request)
    filters = {k: request.query.get(k, "").strip() for k in AUDIT_FILTERS}
    given: dict[str, Any] = {k: _utc(v) if k in ("since", "until") else v
                             for k, v in filters.items() if v}
    before = request.query.get("before", "")
    try:
        page = await request.app[BACKEND].call(
            AdminMethods.AUDIT, actor=caller.principal, limit=AUDIT_PAGE_SIZE,
            before=int(before) if before.isdigit() else None, **given)
    except ModelportError as exc:
        if exc.status >= 500:
            raise
        return await render(request, caller, "audit", "admin_audit.html", entries=[],
                            filters=filters, older=None, paged=False, error=exc.message)
    kept = {k: v for k, v in filters.items() if v}
    older = None
    if page.next_before is not None:
        older = "?" + urlencode({**kept, "before": page.next_before})
    return await render(request, caller, "audit", "admin_audit.html", entries=page.entries,
                        filters=filters, older=older, paged=bool(before),
                        newest="?" + urlencode(kept), error=None)


def _utc(text: str) -> datetime | str:
    """A time field's value (``2024-05-01T12:00``, read as UTC without a zone); other text
    is passed on for the backend to refuse with a message."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
