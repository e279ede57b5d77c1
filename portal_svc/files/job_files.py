"""A job's log and result, for the API and the pages alike.

The full log is stored where the job names it (``JobOut.log_s3_key``, the winning attempt's
log) once the job ended; while it runs, ``follow``
streams its progress as server-sent events. The result is the job's output case, sent like any
case download (verified against its sha256 as it streams).
"""

from __future__ import annotations

import json

from aiohttp import web

from common.contracts.jobs import TERMINAL_STATES, JobOut
from common.contracts.methods import JobMethods
from common.errors import Conflict, ModelportError, NotFound
from portal_svc.api.jobs_models import Job
from portal_svc.appkeys import BACKEND
from portal_svc.auth import Caller
from portal_svc.files.downloads import send_case, stream_verified
from portal_svc.files.stores import stores
from portal_svc.live.jobs import JOB_HUB, events, open_stream, visible_to
from portal_svc.live.revocation import OPEN_STREAMS


async def send_log(request: web.Request, caller: Caller, job_id: str) -> web.StreamResponse:
    """The stored log as text/plain; 409 ``not_finished`` before the job ended, 404
    ``no_log`` when it ended without one (e.g. cancelled while queued)."""
    job = await request.app[BACKEND].call(JobMethods.GET, actor=caller.principal, job_id=job_id)
    if job.state not in TERMINAL_STATES:
        raise Conflict(f"job {job_id} has not finished; follow its log instead",
                       code="not_finished")
    if job.log_s3_key is None:
        raise NotFound(f"job {job_id} has no stored log", code="no_log")
    chunks = stores(request).storage.download(job.log_s3_key)
    first = await _first_chunk(chunks, job_id)  # a missing log is a 404 before any byte
    response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    return await stream_verified(request, response, chunks, first, job_id=job_id)


async def _first_chunk(chunks: object, job_id: str) -> bytes:
    try:
        return await anext(chunks, b"")  # type: ignore[call-overload]
    except ModelportError as exc:
        if exc.status != NotFound.status:
            raise
        raise NotFound(f"job {job_id} has no stored log", code="no_log") from None


async def follow_log(request: web.Request, caller: Caller, job_id: str) -> web.StreamResponse:
    """Server-sent events of the job's progress until it ends: ``state`` first (the job as
    it is), then each ``modelport.job.*`` event, then ``log`` lines of the stored log and
    ``end``. Subscribes before reading the job, so no change is missed in between."""
    hub = request.app[JOB_HUB]
    with hub.subscribe(visible_to(caller, job_id)) as subscriber, \
            request.app[OPEN_STREAMS].track(caller, subscriber.revoke):
        job = await request.app[BACKEND].call(JobMethods.GET, actor=caller.principal, job_id=job_id)
        response = await open_stream(request)
        await response.write(_sse("state", _job_json(job)))
        if job.state not in TERMINAL_STATES:
            async for event in events(subscriber):
                await response.write(event.sse() if event else b": keep-alive\n\n")
                if event is not None and event.terminal:
                    break
            if subscriber.revoked:  # the credential is gone: nothing more is sent
                return response
            job = await request.app[BACKEND].call(
                JobMethods.GET, actor=caller.principal, job_id=job_id)
        await _stored_log_lines(request, response, job)
        await response.write(_sse("end", "{}"))
    return response


async def _stored_log_lines(request: web.Request, response: web.StreamResponse,
                            job: JobOut) -> None:
    if job.log_s3_key is None:
        return
    try:
        text = (await stores(request).storage.read_bytes(job.log_s3_key)).decode(
            "utf-8", "replace")
    except ModelportError:
        return
    for line in text.splitlines():
        await response.write(_sse("log", json.dumps({"line": line})))


async def send_result(request: web.Request, caller: Caller, job_id: str) -> web.StreamResponse:
    """The output case of a succeeded job; 409 ``not_succeeded`` otherwise."""
    job = await request.app[BACKEND].call(JobMethods.GET, actor=caller.principal, job_id=job_id)
    if job.state != "succeeded" or job.output_case_id is None:
        raise Conflict(f"job {job_id} is {job.state}; only a succeeded job has a result",
                       code="not_succeeded")
    download = await stores(request).cases.download(caller, job.output_case_id)
    return await send_case(request, download)


def _job_json(job: JobOut) -> str:
    return str(Job.of(job).model_dump_json())


def _sse(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()
