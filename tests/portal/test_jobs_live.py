"""Live job events: the hub (dedupe, who sees what, bounded queues that keep terminal events)
and the SSE streams end to end — events published on the broker reach the owner's stream and
an admin's, never another user's; ``log?follow=1`` streams a job to its end; stopping the
portal ends open streams at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from common.contracts.events import CloudEvent
from common.contracts.jobs import JobEvent
from common.contracts.users import UserOut
from portal_svc.auth import Caller
from portal_svc.live.jobs import JobEventHub, LiveEvent, Subscriber, visible_to
from tests.portal.jobs_support import WorkerDriver
from tests.portal.uploads import call
from tests.support.sse import SseReader
from tests.support.stack import Stack

JOBS = "/api/v1/jobs"
EVENTS = "/api/v1/events/jobs"


def _caller(username: str, *, admin: bool = False) -> Caller:
    user = UserOut(id=username, username=username, display_name="", is_admin=admin,
                   created_at=datetime.now(UTC))
    return Caller(user=user, token="t")


def _event(kind: str, user: str = "ann", job: str = "j1", **data: Any) -> CloudEvent:
    state = {"progress": "running", "started": "running"}.get(kind, kind)
    body = JobEvent(job_id=job, user=user, app="transport", attempt=1, state=state, **data)
    return CloudEvent(type=f"modelport.job.{kind}", data=body.model_dump(mode="json"))


def _drain(subscriber: Subscriber) -> list[LiveEvent]:
    found = []
    while len(subscriber):
        found.append(subscriber._events.popleft())
    return found


def test_hub_drops_duplicates_and_shows_users_only_their_jobs() -> None:
    hub = JobEventHub()
    with hub.subscribe(visible_to(_caller("ann"))) as ann, \
            hub.subscribe(visible_to(_caller("bob"))) as bob, \
            hub.subscribe(visible_to(_caller("root", admin=True))) as admin:
        event = _event("queued")
        assert hub.publish(event) and not hub.publish(event)
        hub.publish(_event("queued", user="bob", job="j2"))
        assert [e.job.job_id for e in _drain(ann)] == ["j1"]
        assert [e.job.job_id for e in _drain(bob)] == ["j2"]
        assert [e.job.job_id for e in _drain(admin)] == ["j1", "j2"]
    assert hub.subscribers == 0


def test_hub_ignores_malformed_event_data() -> None:
    hub = JobEventHub()
    with hub.subscribe(lambda e: True) as anyone:
        assert not hub.publish(CloudEvent(type=JobEvent.QUEUED, data={"job_id": "x"}))
        assert len(anyone) == 0


def test_a_slow_client_loses_old_progress_never_terminal_events() -> None:
    hub = JobEventHub()
    with hub.subscribe(lambda e: True, max_events=4) as slow:
        hub.publish(_event("started"))
        for step in range(10):
            hub.publish(_event("progress", fraction=step / 10))
        hub.publish(_event("succeeded"))
        hub.publish(_event("cancelled", job="j2"))
        kinds = [(e.type.rsplit(".", 1)[-1], e.job.fraction) for e in _drain(slow)]
    assert kinds[-2:] == [("succeeded", None), ("cancelled", None)]
    assert len(kinds) <= 5 and slow.dropped >= 8
    progress = [f for k, f in kinds if k == "progress" and f is not None]
    assert progress == sorted(progress) and (not progress or progress[-1] == 0.9)


async def test_subscriber_wait_times_out_and_close_wakes_it() -> None:
    hub = JobEventHub()
    with hub.subscribe(lambda e: True) as waiting:
        assert await waiting.next(0.01) is None
        task = asyncio.create_task(waiting.next(30))
        hub.close()
        assert await asyncio.wait_for(task, 5) is None


@asynccontextmanager
async def _stream(stack: Stack, path: str, token: str) -> AsyncIterator[SseReader]:
    async with aiohttp.ClientSession() as http, http.get(
        stack.url(path), headers=stack.bearer(token)
    ) as resp:
        assert resp.status == 200 and resp.content_type == "text/event-stream"
        yield SseReader(resp)


async def test_owner_sees_their_events_others_do_not(jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, _ = jobs
    bob = await stack.create_user("bob", "bob-password-1")
    async with _stream(stack, EVENTS, stack.admin_token) as owner, \
            _stream(stack, EVENTS, bob) as other:
        status, job = await call(stack, "POST", JOBS, json={"app": "transport"})
        assert status == 202
        queued = await owner.until("queued", job_id=job["id"])
        assert queued.json["user"] == "admin" and queued.id
        await call(stack, "POST", f"{JOBS}/{job['id']}/cancel")
        await owner.until("cancelled", job_id=job["id"])
        status, own = await call(stack, "POST", JOBS, bob, json={"app": "transport"})
        first = await other.next()  # events arrive in order: the admin's came before
        assert (first.event, first.json["job_id"]) == ("queued", own["id"])
        assert all(e.json["user"] == "bob" for e in other.seen)
        await owner.until("queued", job_id=own["id"])  # the admin sees everyone's


async def test_streams_require_a_token(jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, _ = jobs
    status, _ = await call(stack, "GET", EVENTS, anonymous=True)
    assert status == 401
    for path in ("/events/jobs", "/jobs/x/state", "/jobs/x/log?follow=1"):  # the pages' own
        status, body = await call(stack, "GET", path, anonymous=True)
        assert status == 401 and body["error"]["code"] == "unauthenticated", path


async def test_follow_streams_a_job_to_its_end(jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, driver = jobs
    status, job = await call(stack, "POST", JOBS, json={"app": "transport"})
    job_id = job["id"]
    async with _stream(stack, f"{JOBS}/{job_id}/log?follow=1", stack.admin_token) as follow:
        state = await follow.next()
        assert state.event == "state" and state.json["state"] == "queued"
        await driver.start(job_id)
        await follow.until("started")
        for step in (1, 2, 3):
            await driver.progress(job_id, step / 4, f"iteration {step}")
        for step in (1, 2, 3):
            event = await follow.until("progress")
            assert event.json["fraction"] == step / 4
        await driver.succeed(job_id, log=b"presolve\noptimal\n")
        await follow.until("succeeded")
        lines = [await follow.next() for _ in range(3)]
        assert [(e.event, e.json.get("line")) for e in lines] == [
            ("log", "presolve"), ("log", "optimal"), ("end", None)]
        with pytest.raises(EOFError):
            await follow.next()


async def test_follow_of_a_finished_job_ends_at_once(jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, _ = jobs
    status, job = await call(stack, "POST", JOBS, json={"app": "transport"})
    await call(stack, "POST", f"{JOBS}/{job['id']}/cancel")
    async with _stream(stack, f"{JOBS}/{job['id']}/log?follow=1", stack.admin_token) as follow:
        assert (await follow.next()).json["state"] == "cancelled"
        assert (await follow.next()).event == "end"


async def test_stopping_the_portal_ends_open_streams(jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, _ = jobs
    async with _stream(stack, EVENTS, stack.admin_token) as open_stream:
        await asyncio.wait_for(stack.portal.stop(), 3)  # not the 5 s shutdown grace
        with pytest.raises((EOFError, aiohttp.ClientError)):
            await open_stream.next(5)
