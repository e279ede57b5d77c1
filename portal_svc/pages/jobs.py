"""The Jobs pages: the list of your jobs and a job's detail, both kept live by
``/static/jobs.js`` from the session-authenticated event stream ``/events/jobs``.

Scripts reach a job's JSON (``/jobs/{id}/state``), cancel it (POST with the page's CSRF token
in ``X-CSRF-Token``) and follow its log; downloads reuse the API's code.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from common.contracts.jobs import JobOut
from common.contracts.method import AnyMethod
from common.contracts.methods import JobMethods
from common.errors import BadRequest
from portal_svc import auth, web_session
from portal_svc.api.io import json_reply
from portal_svc.api.jobs_models import Job, JobPage
from portal_svc.appkeys import BACKEND, JSON_ERRORS
from portal_svc.files import job_files
from portal_svc.live import jobs as live
from portal_svc.pages.site import page_caller, page_context, xhr_caller

routes = web.RouteTableDef()
JOBS_PAGE = "/jobs"
PAGE_SIZE = 100
MAX_PAGE = 100_000


@routes.get(JOBS_PAGE)
async def jobs_page(request: web.Request) -> web.StreamResponse:
    """A page of ``PAGE_SIZE`` jobs, newest first (``?page=N``, from 1): only the first
    takes in jobs submitted while it is open; every row follows its own job. Asked with
    ``Accept: application/json`` (by the page's script when its live stream opens), the same
    jobs as the API's page, so the script refreshes every row with one request."""
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    caller = await (_script_caller(request) if wants_json else page_caller(request))
    number = _page_number(request)
    offset = (number - 1) * PAGE_SIZE
    page = await request.app[BACKEND].call(JobMethods.LIST, actor=caller.principal,
                                          limit=PAGE_SIZE, offset=offset)
    if wants_json:
        return json_reply(JobPage.of(page))
    context = await page_context(request, caller, "jobs", jobs=page.jobs, total=page.total,
                                 page=number, first=offset + 1, last=offset + len(page.jobs))
    return aiohttp_jinja2.render_template("jobs.html", request, context)


def _page_number(request: web.Request) -> int:
    """``?page=`` as a number from 1 (1 when absent); BadRequest otherwise."""
    text = request.query.get("page", "1")
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise BadRequest(f"page must be a whole number from 1 to {MAX_PAGE}",
                         code="invalid_request")
    return int(text)


@routes.get("/events/jobs")
async def job_events(request: web.Request) -> web.StreamResponse:
    """The signed-in user's job events for the pages' EventSource (same as the API's)."""
    caller = await _script_caller(request)
    return await live.stream_job_events(request, caller)


@routes.get(JOBS_PAGE + "/{job_id}")
async def job_page(request: web.Request) -> web.StreamResponse:
    caller = await page_caller(request)
    job = await _call(request, caller, JobMethods.GET)
    context = await page_context(request, caller, "jobs", job=job)
    return aiohttp_jinja2.render_template("job.html", request, context)


@routes.get(JOBS_PAGE + "/{job_id}/state")
async def job_state(request: web.Request) -> web.StreamResponse:
    """The job's JSON (as the API's), for a script refreshing one row."""
    caller = await _script_caller(request)
    return json_reply(Job.of(await _call(request, caller, JobMethods.GET)))


@routes.post(JOBS_PAGE + "/{job_id}/cancel")
async def cancel_job(request: web.Request) -> web.StreamResponse:
    caller = await xhr_caller(request)
    return json_reply(Job.of(await _call(request, caller, JobMethods.CANCEL)))


@routes.get(JOBS_PAGE + "/{job_id}/log")
async def job_log(request: web.Request) -> web.StreamResponse:
    """The stored log; with ``follow=1`` the live event stream (as the API's)."""
    caller = await _script_caller(request)
    job_id = request.match_info["job_id"]
    if request.query.get("follow") in ("1", "true"):
        return await job_files.follow_log(request, caller, job_id)
    return await job_files.send_log(request, caller, job_id)


async def _call(request: web.Request, caller: auth.Caller, method: AnyMethod) -> JobOut:
    """``method`` (get, cancel) on the job the path names, as ``caller``."""
    job: JobOut = await request.app[BACKEND].call(
        method, actor=caller.principal, job_id=request.match_info["job_id"])
    return job


async def _script_caller(request: web.Request) -> auth.Caller:
    """The signed-in user of a script's GET (no CSRF needed); errors in JSON, 401 without
    a session (a redirect to the sign-in page would mean nothing to EventSource or fetch)."""
    request[JSON_ERRORS] = True
    return await auth.resolve(request, await web_session.session_token(request))


@routes.get(JOBS_PAGE + "/{job_id}/result")
async def job_result(request: web.Request) -> web.StreamResponse:
    caller = await page_caller(request)
    return await job_files.send_result(request, caller, request.match_info["job_id"])
