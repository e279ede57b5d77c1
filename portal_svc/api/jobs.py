"""``/api/v1/jobs``: submit, list, show, cancel and interrupt solve jobs; their log and result;
and ``/api/v1/events/jobs``, the caller's job events as server-sent events."""

from __future__ import annotations

from aiohttp import web

from common.contracts.methods import JobMethods
from portal_svc import auth
from portal_svc.api.idempotency import idempotency_key
from portal_svc.api.io import json_reply, read_query
from portal_svc.api.jobs_models import Job, JobPage, ListJobsQuery, LogQuery, SubmitJobRequest
from portal_svc.api.relay import call_as_caller, relay, relay_cached
from portal_svc.files import job_files
from portal_svc.list_cache import JOBS
from portal_svc.live import jobs as live
from portal_svc.openapi import ApiRoutes

routes = ApiRoutes(tags=("jobs",))
JOB = "/api/v1/jobs/{job_id}"


@routes.route("POST", "/api/v1/jobs", summary="Submit a solve job", request=SubmitJobRequest,
              response=Job, status=202, errors=(400, 404, 409, 413, 422, 429))
async def submit_job(request: web.Request) -> web.Response:
    """Queues the job and answers at once (202, `Location` of the job). 404 for an unknown
    app, version or input case (or a case you may not read); 400 for an unknown procedure or
    out-of-range priority and limits; 422 `time_limit_too_long` past the platform's longest
    time limit (a job naming none gets the default); 429 `quota_exceeded` when your queued
    jobs are at their quota or your monthly CPU-hours are used up (`details` names the quota,
    its `limit` and what is `used`). Nothing is queued on any refusal.

    With an `Idempotency-Key` header (yours, kept at least 24 h), a retry of the same
    request answers the job of the first try (202, same id, its current state) instead of
    queueing another; the same key with a different request is refused with 409."""
    job = await call_as_caller(request, JobMethods.SUBMIT, body=SubmitJobRequest,
                               idempotency_key=idempotency_key(request))
    return json_reply(Job.of(job), status=202, location=f"/api/v1/jobs/{job.id}")


@routes.route("GET", "/api/v1/jobs", summary="List your jobs (anyone's for an admin)",
              query=ListJobsQuery, response=JobPage, errors=(400,))
async def list_jobs(request: web.Request) -> web.Response:
    """Newest first; `total` counts every job matching the filters. Served from the portal's
    short read cache: see docs/portal.md, "Read cache"."""
    return await relay_cached(request, JOBS, JobMethods.LIST, JobPage, query=ListJobsQuery)


@routes.route("GET", JOB, summary="Show a job", response=Job, errors=(404,))
async def get_job(request: web.Request) -> web.Response:
    """404 for a job that does not exist or is someone else's."""
    return await relay(request, JobMethods.GET, Job)


@routes.route("POST", JOB + "/cancel", summary="Cancel a job", response=Job, errors=(404, 409))
async def cancel_job(request: web.Request) -> web.Response:
    """A queued job ends `cancelled` at once; a running one is killed (within 2 s)."""
    return await relay(request, JobMethods.CANCEL, Job)


@routes.route("POST", JOB + "/interrupt", summary="Stop a running job, keeping its best result",
              response=Job, errors=(404, 409))
async def interrupt_job(request: web.Request) -> web.Response:
    """The solve stops and the job succeeds, marked `interrupted`, with its best solution."""
    return await relay(request, JobMethods.INTERRUPT, Job)


@routes.route("GET", JOB + "/log", summary="A job's log", query=LogQuery, errors=(400, 404, 409),
              download=True)
async def job_log(request: web.Request) -> web.StreamResponse:
    """The stored log (text/plain) once the job ended: 409 `not_finished` before. With
    `follow=1`: text/event-stream of `state` (the job now), each job event (`started`,
    `progress`, `succeeded`, ...), the stored log's `log` lines, then `end`."""
    caller = await auth.api_caller(request)
    job_id = request.match_info["job_id"]
    if read_query(request, LogQuery).follow:
        return await job_files.follow_log(request, caller, job_id)
    return await job_files.send_log(request, caller, job_id)


@routes.route("GET", JOB + "/result", summary="Download a job's result case",
              errors=(404, 409), download=True)
async def job_result(request: web.Request) -> web.StreamResponse:
    """The output case, with its sha256 in `X-Checksum-SHA256` (verified as it streams);
    409 `not_succeeded` for a job that has not succeeded."""
    caller = await auth.api_caller(request)
    return await job_files.send_result(request, caller, request.match_info["job_id"])


@routes.route("GET", "/api/v1/events/jobs", summary="Your job events, live (server-sent events)")
async def job_events(request: web.Request) -> web.StreamResponse:
    """text/event-stream: each `modelport.job.*` event of your jobs (everyone's for an admin)
    as it happens; the SSE event name is the type's last word (`queued`, `progress`, ...) and
    `data` is the job event's JSON. Progress may be thinned for a slow reader; state changes
    never are."""
    caller = await auth.api_caller(request)
    return await live.stream_job_events(request, caller)
