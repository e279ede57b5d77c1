"""``POST /api/v1/jobs`` with an ``Idempotency-Key``, on the real stack (portal, backend,
PostgreSQL, RabbitMQ, S3): a retry gives the first job, a different request under the key
409, concurrent duplicates one job, keys are per user and honoured for at least 24 h."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from modelport.client import PortalClient
from modelport.client.jobs import Jobs
from tests.ha.idempotency_support import bad_keys_refused, burst, listed_ids, post
from tests.portal.jobs_support import WorkerDriver
from tests.portal.uploads import error_code
from tests.support.stack import Stack

JOBS = "/api/v1/jobs"
JOB: dict[str, Any] = {"app": "transport", "procedure": "solve", "priority": 1}


@pytest.fixture
def stack(jobs: tuple[Stack, WorkerDriver]) -> Stack:
    return jobs[0]


async def _post(stack: Stack, key: str | None, body: dict[str, Any] | None = None,
                token: str | None = None) -> tuple[int, Any]:
    return await post(stack, JOBS, key, JOB if body is None else body, token)


async def test_same_key_same_request_gives_the_first_job(stack: Stack) -> None:
    status, first = await _post(stack, "retry-1")
    assert status == 202 and first["state"] == "queued"
    status, again = await _post(stack, "retry-1", dict(reversed(list(JOB.items()))))
    assert status == 202 and again["id"] == first["id"]
    assert await listed_ids(stack, JOBS) == [first["id"]]
    # without a key every submit is a new job
    _, other = await _post(stack, None)
    _, another = await _post(stack, None)
    assert len({first["id"], other["id"], another["id"]}) == 3


async def test_same_key_different_request_is_refused_and_changes_nothing(stack: Stack) -> None:
    _, first = await _post(stack, "k-2")
    before = await stack.snapshot()
    status, body = await _post(stack, "k-2", {**JOB, "priority": 2})
    assert status == 409 and error_code(body) == "idempotency_key_reused"
    assert "k-2" in body["error"]["message"] and first["id"] in body["error"]["message"]
    assert await stack.snapshot() == before
    assert await listed_ids(stack, JOBS) == [first["id"]]


async def test_bad_keys_are_refused_with_nothing_queued(stack: Stack) -> None:
    await bad_keys_refused(stack, JOBS, JOB)


async def test_keys_are_per_user(stack: Stack) -> None:
    bob = await stack.create_user("bob", "bob-password-1")
    _, admins = await _post(stack, "shared")
    status, bobs = await _post(stack, "shared", token=bob)
    assert status == 202 and bobs["id"] != admins["id"] and bobs["user"] == "bob"


async def test_concurrent_duplicates_create_one_job(stack: Stack) -> None:
    ids = await burst(stack, JOBS, JOB, 202)
    assert len(ids) == 1 and await listed_ids(stack, JOBS) == sorted(ids)


async def test_a_key_is_honoured_a_day_then_free(stack: Stack) -> None:
    _, first = await _post(stack, "daily")
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        await conn.execute("UPDATE job_idempotency SET created_at = now() - interval '23 hours'")
        status, body = await _post(stack, "daily", {**JOB, "priority": 5})
        assert status == 409 and error_code(body) == "idempotency_key_reused"
        await conn.execute("UPDATE job_idempotency SET created_at = now() - interval '25 hours'")
        status, second = await _post(stack, "daily", {**JOB, "priority": 5})
        assert status == 202 and second["id"] != first["id"] and second["priority"] == 5
        assert await conn.fetchval("SELECT count(*) FROM job_idempotency") == 1
    finally:
        await conn.close()


async def test_the_client_sends_a_key_and_its_retry_reuses_it(stack: Stack) -> None:
    key = uuid.uuid4().hex
    async with PortalClient(stack.portal_url, stack.admin_token) as portal:
        first = await Jobs(portal).submit("transport", idempotency_key=key, priority=1)
        again = await Jobs(portal).submit("transport", idempotency_key=key, priority=1)
        fresh = await Jobs(portal).submit("transport", priority=1)  # a key of its own
    assert again["id"] == first["id"] != fresh["id"]
    assert await listed_ids(stack, JOBS) == sorted({first["id"], fresh["id"]})
