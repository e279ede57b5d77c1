"""Quotas and usage through the REST API on real servers: admins read and set quotas, others
get 403; a submit past the queued-jobs quota and an upload past the storage quota answer 429
``quota_exceeded`` naming the quota (body ``details``, ``Retry-After``) and change nothing;
usage as JSON and as CSV with a header."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import aiohttp

from tests.portal.jobs_support import WorkerDriver
from tests.portal.uploads import call, case_bytes, error_code, unchanged, upload
from tests.support.stack import Stack

QUOTAS = "/api/v1/admin/quotas"
USAGE = "/api/v1/admin/usage"


async def _alice(stack: Stack) -> str:
    return await stack.create_user("alice", "alice-password-1")


async def test_admins_read_and_set_quotas_others_get_403(
    jobs: tuple[Stack, WorkerDriver],
) -> None:
    stack, _ = jobs
    alice = await _alice(stack)
    status, body = await call(stack, "PUT", f"{QUOTAS}/users/alice",
                              json={"queued_jobs": 5, "storage_bytes": 1000})
    assert status == 200, body
    assert body["overrides"]["queued_jobs"] == 5 and body["overrides"]["sessions"] is None
    lines = {line["quota"]: line for line in body["effective"]}
    assert lines["queued_jobs"] == {"quota": "queued_jobs", "limit": 5, "source": "user",
                                    "used": 0}
    assert lines["sessions"]["source"] == "default"
    status, body = await call(stack, "GET", QUOTAS)
    assert status == 200 and [(o["kind"], o["name"]) for o in body["overrides"]] == [
        ("user", "alice")]
    async with unchanged(stack):
        for method, path, kwargs in (
            ("GET", QUOTAS, {}), ("GET", f"{QUOTAS}/users/alice", {}),
            ("PUT", f"{QUOTAS}/users/alice", {"json": {"queued_jobs": 1000}}),
            ("GET", USAGE, {}),
        ):
            status, body = await call(stack, method, path, alice, **kwargs)
            assert status == 403 and error_code(body) == "forbidden", (path, body)
        status, body = await call(stack, "PUT", f"{QUOTAS}/users/alice",
                                  json={"queued_jobs": -1})
        assert status == 400 and error_code(body) == "invalid_request"
        status, body = await call(stack, "PUT", f"{QUOTAS}/users/alice", json={"nonsense": 1})
        assert status == 400 and error_code(body) == "invalid_request"
        status, body = await call(stack, "GET", f"{QUOTAS}/groups/nobody")
        assert status == 404 and error_code(body) == "unknown_group"
        status, body = await call(stack, "GET", f"{QUOTAS}/robots/alice")
        assert status == 404


async def test_a_submit_past_the_queued_jobs_quota_is_429_naming_it(
    jobs: tuple[Stack, WorkerDriver],
) -> None:
    stack, _ = jobs
    alice = await _alice(stack)
    status, _ = await call(stack, "PUT", f"{QUOTAS}/users/alice", json={"queued_jobs": 2})
    assert status == 200
    for _ in range(2):
        status, job = await call(stack, "POST", "/api/v1/jobs", alice, json={"app": "transport"})
        assert status == 202 and job["time_limit_s"] == 4 * 3600  # the default time limit
    async with unchanged(stack), aiohttp.ClientSession() as http, http.post(
        stack.url("/api/v1/jobs"), json={"app": "transport"}, headers=stack.bearer(alice)
    ) as resp:
        body = await resp.json()
        assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    assert body["error"]["code"] == "quota_exceeded"
    assert body["error"]["message"].startswith("queued jobs: 2 of 2")
    assert body["error"]["details"] == {"quota": "queued_jobs", "limit": 2, "used": 2}
    async with unchanged(stack):
        status, body = await call(stack, "POST", "/api/v1/jobs", alice,
                                  json={"app": "transport", "time_limit_s": 24 * 3600 + 1})
    assert status == 422 and body["error"]["code"] == "time_limit_too_long"
    assert "at most 86400 s" in body["error"]["message"]


async def test_an_upload_past_the_storage_quota_keeps_nothing(
    jobs: tuple[Stack, WorkerDriver],
) -> None:
    stack, _ = jobs
    alice = await _alice(stack)
    data = case_bytes()
    status, _ = await call(stack, "PUT", f"{QUOTAS}/users/alice",
                           json={"storage_bytes": len(data) + 10})
    assert status == 200
    params = {"app": "transport"}
    status, case = await upload(stack, "/api/v1/cases", data, alice, params=params)
    assert status == 201, case
    async with unchanged(stack):
        status, body = await upload(stack, "/api/v1/cases", data, alice, params=params)
    assert status == 429 and body["error"]["code"] == "quota_exceeded"
    assert body["error"]["details"] == {"quota": "storage_bytes", "limit": len(data) + 10,
                                        "used": len(data)}
    assert body["error"]["message"].startswith(f"case storage (bytes): {len(data)} of")


async def _usage(stack: Stack, **params: str) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.get(
        stack.url(USAGE), params=params, headers=stack.admin_headers
    ) as resp:
        return resp.status, await resp.text(), dict(resp.headers)


async def test_usage_as_json_and_csv(jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, driver = jobs
    alice = await _alice(stack)
    status, job = await call(stack, "POST", "/api/v1/jobs", alice, json={"app": "transport"})
    assert status == 202
    await driver.start(job["id"])
    await driver.succeed(job["id"])
    status, report = await call(stack, "GET", USAGE)
    assert status == 200, report
    [row] = report["rows"]
    assert (row["user"], row["app"], row["jobs"], row["sessions"]) == ("alice", "transport",
                                                                       1, 0)
    assert row["job_cpu_seconds"] > 0 and row["session_hours"] == 0
    status, text, headers = await _usage(stack, format="csv")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["user", "app", "session_hours", "job_cpu_seconds", "sessions", "jobs"]
    assert rows[1][:2] == ["alice", "transport"] and rows[1][4:] == ["0", "1"]
    status, text, _ = await _usage(stack, format="csv", **{"from": "2000-01-01T00:00:00Z",
                                                           "to": "2000-02-01T00:00:00Z"})
    assert status == 200 and text.splitlines() == [",".join(rows[0])]
    status, text, _ = await _usage(stack, **{"from": "2030-01-02T00:00:00Z",
                                             "to": "2030-01-01T00:00:00Z"})
    body: Any = json.loads(text)
    assert status == 400 and body["error"]["code"] == "bad_period"
    status, text, _ = await _usage(stack, format="xml")
    assert status == 400
