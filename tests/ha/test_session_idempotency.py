"""``POST /api/v1/sessions`` with an ``Idempotency-Key``, on the real stack (portal, backend,
PostgreSQL, RabbitMQ, S3), by the rules of ``POST /api/v1/jobs``: a retry gives the first
session (even when the user is at the session limit by then), a different request under the
key 409 with nothing changed, a malformed key 400 with nothing changed, concurrent
duplicates one session, keys per user."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ha.idempotency_support import bad_keys_refused, burst, listed_ids, post
from tests.portal.jobs_support import WorkerDriver
from tests.portal.uploads import error_code
from tests.support.stack import Stack

SESSIONS = "/api/v1/sessions"
OPEN: dict[str, Any] = {"app": "transport"}


@pytest.fixture
def stack(jobs: tuple[Stack, WorkerDriver]) -> Stack:
    return jobs[0]


async def _post(stack: Stack, key: str | None, body: dict[str, Any] | None = None,
                token: str | None = None) -> tuple[int, Any]:
    return await post(stack, SESSIONS, key, OPEN if body is None else body, token)


async def test_same_key_same_request_gives_the_first_session(stack: Stack) -> None:
    status, first = await _post(stack, "retry-1")
    assert status == 201 and first["state"] == "requested"
    # without a key every request is a new session: the user is now at the limit (3)
    _, other = await _post(stack, None)
    _, another = await _post(stack, None)
    assert len({first["id"], other["id"], another["id"]}) == 3
    status, again = await _post(stack, "retry-1", {"version": None, **OPEN})
    assert status == 201 and again["id"] == first["id"]
    status, body = await _post(stack, "retry-2")  # a new key: the limit holds
    assert status == 429 and error_code(body) == "quota_exceeded"
    assert await listed_ids(stack, SESSIONS) == sorted([first["id"], other["id"], another["id"]])


async def test_same_key_different_request_is_refused_and_changes_nothing(stack: Stack) -> None:
    _, first = await _post(stack, "k-2")
    before = await stack.snapshot()
    status, body = await _post(stack, "k-2", {**OPEN, "version": "9.9"})
    assert status == 409 and error_code(body) == "idempotency_key_reused"
    assert "k-2" in body["error"]["message"] and first["id"] in body["error"]["message"]
    assert await stack.snapshot() == before
    assert await listed_ids(stack, SESSIONS) == [first["id"]]


async def test_bad_keys_are_refused_with_nothing_opened(stack: Stack) -> None:
    await bad_keys_refused(stack, SESSIONS, OPEN)


async def test_keys_are_per_user(stack: Stack) -> None:
    bob = await stack.create_user("bob", "bob-password-1")
    _, admins = await _post(stack, "shared")
    status, bobs = await _post(stack, "shared", token=bob)
    assert status == 201 and bobs["id"] != admins["id"] and bobs["user"] == "bob"


async def test_concurrent_duplicates_open_one_session(stack: Stack) -> None:
    ids = await burst(stack, SESSIONS, OPEN, 201)
    assert len(ids) == 1 and await listed_ids(stack, SESSIONS) == sorted(ids)
