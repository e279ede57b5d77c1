"""The admin page ``/admin/usage``: quotas (defaults, overrides, one user's quotas in force,
setting a user's or group's) and usage per user and app over a period, with its CSV.

Admins only: to anyone else the pages do not exist (404, as every admin page, see
:func:`portal_svc.pages.admin.admin_caller`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from common.contracts.methods import QuotaMethods
from common.contracts.quotas import QUOTAS
from common.errors import BadRequest
from portal_svc import web_session
from portal_svc.api.admin_quotas import usage_csv
from portal_svc.appkeys import BACKEND
from portal_svc.auth import Caller
from portal_svc.pages.admin import NAV, admin_caller
from portal_svc.pages.site import page_context

routes = web.RouteTableDef()
USAGE_PAGE = "/admin/usage"


def _day(text: str | None, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{text!r} is not a date (YYYY-MM-DD)", code="bad_period") from None


def _period(request: web.Request) -> tuple[date, date]:
    """The page's period in whole days (UTC): ``from`` to ``to`` inclusive; default: this
    month so far."""
    today = datetime.now(UTC).date()
    first = _day(request.query.get("from"), today.replace(day=1))
    last = _day(request.query.get("to"), today)
    return first, last


async def _usage(request: web.Request, caller: Caller) -> tuple[date, date, Any]:
    first, last = _period(request)
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    report = await request.app[BACKEND].call(QuotaMethods.USAGE, actor=caller.principal,
                                             start=start, end=end)
    return first, last, report


@routes.get(USAGE_PAGE)
async def usage_page(request: web.Request) -> web.StreamResponse:
    caller = await admin_caller(request)
    backend = request.app[BACKEND]
    first, last, report = await _usage(request, caller)
    overview = await backend.call(QuotaMethods.LIST, actor=caller.principal)
    looked_up = None
    if request.query.get("user"):
        looked_up = await backend.call(QuotaMethods.GET, actor=caller.principal, kind="user",
                                       name=request.query["user"])
    context = await page_context(
        request, caller, "admin", admin_nav=NAV, section="usage", report=report, first=first,
        last=last,
        overview=overview, looked_up=looked_up, quotas=QUOTAS,
        totals={"session_hours": sum(r.session_hours for r in report.rows),
                "job_cpu_seconds": sum(r.job_cpu_seconds for r in report.rows)})
    return aiohttp_jinja2.render_template("admin_usage.html", request, context)


@routes.get(USAGE_PAGE + ".csv")
async def usage_csv_download(request: web.Request) -> web.StreamResponse:
    caller = await admin_caller(request)
    first, last, report = await _usage(request, caller)
    name = f"usage-{first.isoformat()}-{last.isoformat()}.csv"
    return web.Response(text=usage_csv(report.rows), content_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


@routes.post("/admin/quotas")
async def set_quotas(request: web.Request) -> web.StreamResponse:
    """The page's form: a user's or group's overrides (an empty field inherits)."""
    form = await web_session.check_csrf(request)
    caller = await admin_caller(request)
    kind, name = form.get("kind", ""), form.get("name", "").strip()
    values: dict[str, int] = {}
    for quota in QUOTAS:
        text = form.get(quota, "").strip()
        if text:
            if not text.isdigit():
                raise BadRequest(f"{QUOTAS[quota]}: {text!r} is not a whole number",
                                 code="invalid_request")
            values[quota] = int(text)
    await request.app[BACKEND].call(QuotaMethods.SET, actor=caller.principal, kind=kind,
                                    name=name, values=values)
    await web_session.flash(request, f"Quotas of {kind} {name} saved.")
    where = f"{USAGE_PAGE}?user={name}" if kind == "user" else USAGE_PAGE
    raise web.HTTPSeeOther(where)
