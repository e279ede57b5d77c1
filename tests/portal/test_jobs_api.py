"""Jobs through the REST API: submit (202, queued), list with filters and paging, show,
another user's job 404, bad limits 400 with nothing queued, unknown app 404, cancel while
queued, interrupt of a job not running 409, the result of a job that has not succeeded 409,
the log and result once it ended, the OpenAPI document — all on the real backend, with a
fake solve worker (:class:`~tests.portal.jobs_support.WorkerDriver`) reporting the run."""

from __future__ import annotations

import hashlib
from typing import Any

import aiohttp
import pytest

from tests.portal.jobs_support import WorkerDriver, transport_case
from tests.portal.uploads import call, error_code
from tests.support.stack import Stack

JOBS = "/api/v1/jobs"
TRANSPORT_JOB: dict[str, Any] = {"app": "transport", "procedure": "solve", "priority": 3,
                                 "time_limit_s": 60}


async def _total(stack: Stack) -> int:
    status, page = await call(stack, "GET", JOBS)
    assert status == 200
    return int(page["total"])


async def _submit(stack: Stack, token: str | None = None, **fields: Any) -> dict[str, Any]:
    status, body = await call(stack, "POST", JOBS, token, json={**TRANSPORT_JOB, **fields})
    assert status == 202, body
    return dict(body)


async def test_submit_is_accepted_and_queued(jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, _ = jobs
    async with aiohttp.ClientSession() as http, http.post(
        stack.url(JOBS), json=TRANSPORT_JOB, headers=stack.admin_headers
    ) as resp:
        assert resp.status == 202
        body = await resp.json()
        assert resp.headers["Location"] == f"{JOBS}/{body['id']}"
    assert body["state"] == "queued" and body["queue_position"] == 1
    assert (body["app"], body["priority"], body["time_limit_s"]) == ("transport", 3, 60)
    status, shown = await call(stack, "GET", f"{JOBS}/{body['id']}")
    assert status == 200 and shown["id"] == body["id"] and shown["state"] == "queued"


async def test_list_filters_and_pages(jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, _ = jobs
    made = [await _submit(stack) for _ in range(3)]
    await call(stack, "POST", f"{JOBS}/{made[0]['id']}/cancel")
    status, page = await call(stack, "GET", JOBS, params={"limit": "2"})
    assert status == 200 and page["total"] == 3 and len(page["jobs"]) == 2
    status, page = await call(stack, "GET", JOBS, params={"state": "cancelled"})
    assert [j["id"] for j in page["jobs"]] == [made[0]["id"]] and page["total"] == 1
    status, page = await call(stack, "GET", JOBS, params={"app": "other"})
    assert page == {"jobs": [], "total": 0}
    status, body = await call(stack, "GET", JOBS, params={"state": "sleeping"})
    assert status == 400 and error_code(body) == "invalid_request"


async def test_another_users_job_is_404(jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, _ = jobs
    job = await _submit(stack)
    other = await stack.create_user("olga", "olga-password-1")
    for method, path in (("GET", ""), ("POST", "/cancel"), ("POST", "/interrupt"),
                         ("GET", "/log"), ("GET", "/result")):
        status, body = await call(stack, method, f"{JOBS}/{job['id']}{path}", other)
        assert status == 404, (path, body)
    status, page = await call(stack, "GET", JOBS, other)
    assert page == {"jobs": [], "total": 0}


@pytest.mark.parametrize("bad", [
    {"priority": 11}, {"priority": "high"}, {"time_limit_s": 0}, {"memory_mb": 1},
    {"procedure": ""}, {"colour": "red"}, {"app": ""},
])
async def test_invalid_requests_are_400_and_queue_nothing(
    jobs: tuple[Stack, WorkerDriver], bad: dict[str, Any]
) -> None:
    stack, _ = jobs
    status, body = await call(stack, "POST", JOBS, json={**TRANSPORT_JOB, **bad})
    assert status == 400 and error_code(body) == "invalid_request", body
    assert await _total(stack) == 0


async def test_malformed_body_and_unknown_app(jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, _ = jobs
    async with aiohttp.ClientSession() as http, http.post(
        stack.url(JOBS), data=b"{nope",
        headers={**stack.admin_headers, "Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 400 and error_code(await resp.json()) == "malformed_json"
    status, body = await call(stack, "POST", JOBS, json={**TRANSPORT_JOB, "app": "nothing"})
    assert status == 404, body
    assert await _total(stack) == 0
    status, body = await call(stack, "POST", JOBS, anonymous=True, json=TRANSPORT_JOB)
    assert status == 401


async def test_cancel_while_queued_then_again(jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, _ = jobs
    job = await _submit(stack)
    status, body = await call(stack, "POST", f"{JOBS}/{job['id']}/cancel")
    assert status == 200 and body["state"] == "cancelled"
    status, body = await call(stack, "POST", f"{JOBS}/{job['id']}/cancel")
    assert status == 409, body
    status, body = await call(stack, "POST", f"{JOBS}/{job['id']}/interrupt")
    assert status == 409, body


async def test_result_and_log_of_unfinished_jobs_are_409(
    jobs: tuple[Stack, WorkerDriver]
) -> None:
    stack, driver = jobs
    job = await _submit(stack)
    for path, code in (("/result", "not_succeeded"), ("/log", "not_finished")):
        status, body = await call(stack, "GET", f"{JOBS}/{job['id']}{path}")
        assert status == 409 and error_code(body) == code, body
    await driver.start(job["id"])
    await driver.fail(job["id"], "timeout", log=b"time limit reached\n")
    status, body = await call(stack, "GET", f"{JOBS}/{job['id']}")
    assert (body["state"], body["reason"]) == ("failed", "timeout")
    status, body = await call(stack, "GET", f"{JOBS}/{job['id']}/result")
    assert status == 409 and error_code(body) == "not_succeeded"
    assert await _text(stack, f"{JOBS}/{job['id']}/log") == (200, "time limit reached\n")


async def test_cancelled_while_queued_has_no_log(jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, _ = jobs
    job = await _submit(stack)
    await call(stack, "POST", f"{JOBS}/{job['id']}/cancel")
    status, body = await call(stack, "GET", f"{JOBS}/{job['id']}/log")
    assert status == 404 and error_code(body) == "no_log"


async def test_succeeded_job_serves_its_result_and_log(jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, driver = jobs
    job = await _submit(stack)
    await driver.start(job["id"])
    result = transport_case()
    await driver.succeed(job["id"], output=result, log=b"presolve\noptimal: 153.675\n")
    status, done = await call(stack, "GET", f"{JOBS}/{job['id']}")
    assert done["state"] == "succeeded" and done["output_case_id"]
    async with aiohttp.ClientSession() as http, http.get(
        stack.url(f"{JOBS}/{job['id']}/result"), headers=stack.admin_headers
    ) as resp:
        assert resp.status == 200, await resp.text()
        assert await resp.read() == result
        assert resp.headers["X-Checksum-SHA256"] == hashlib.sha256(result).hexdigest()
    assert await _text(stack, f"{JOBS}/{job['id']}/log") == (200, "presolve\noptimal: 153.675\n")
    other = await stack.create_user("olga", "olga-password-1")
    status, _ = await call(stack, "GET", f"{JOBS}/{job['id']}/result", other)
    assert status == 404


async def _text(stack: Stack, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(
        stack.url(path), headers=stack.admin_headers
    ) as resp:
        return resp.status, await resp.text()


async def test_jobs_are_in_the_openapi_document(jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, _ = jobs
    status, doc = await call(stack, "GET", "/api/v1/openapi.json")
    paths = doc["paths"]
    assert set(paths[JOBS]) == {"get", "post"}
    assert "202" in paths[JOBS]["post"]["responses"] and "404" in paths[JOBS]["post"]["responses"]
    assert "409" in paths[JOBS + "/{job_id}/result"]["get"]["responses"]
    assert {"SubmitJobRequest", "Job", "JobPage"} <= set(doc["components"]["schemas"])
    assert "get" in paths["/api/v1/events/jobs"]
