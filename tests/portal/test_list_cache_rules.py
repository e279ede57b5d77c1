"""Which kept lists each event drops, and how the list cache keeps answers (pure logic)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from common.contracts.base import Principal
from common.contracts.events import CloudEvent
from common.errors import NotFound
from portal_svc.list_cache import APPS, CASES, JOBS, Answer, ListCache, stale_after

ALICE = Principal(user_id="u-alice", username="alice")
BOB = Principal(user_id="u-bob", username="bob")
KEPT = [Answer(kind, who.user_id, who.username, b"{}") for kind in (APPS, CASES, JOBS)
        for who in (ALICE, BOB)]


def dropped(event_type: str, **data: Any) -> set[tuple[str, str]]:
    stale = stale_after(CloudEvent(type=event_type, data=data))
    return set() if stale is None else {(a.kind, a.username) for a in KEPT if stale(a)}


EVERYTHING = {(k, u) for k in (APPS, CASES, JOBS) for u in ("alice", "bob")}
ALL_JOBS = {(JOBS, "alice"), (JOBS, "bob")}


@pytest.mark.parametrize("event_type,data,expected", [
    ("modelport.app.version_published", {"app": "t"}, {(APPS, "alice"), (APPS, "bob")}),
    ("modelport.app.activated", {"app": "t"}, {(APPS, "alice"), (APPS, "bob")}),
    ("modelport.app.rights_changed", {"app": "t"}, {(APPS, "alice"), (APPS, "bob")}),
    ("modelport.app.deleted", {"app": "t"}, EVERYTHING),  # its cases lose the version
    ("modelport.group.member_added", {"group": "g", "username": "alice"},
     {(APPS, "alice"), (JOBS, "alice"), (CASES, "alice"), (CASES, "bob")}),
    ("modelport.group.member_removed", {"group": "g", "username": "bob"},
     {(APPS, "bob"), (JOBS, "bob"), (CASES, "alice"), (CASES, "bob")}),
    ("modelport.group.member_removed", {"group": "g"}, EVERYTHING),  # malformed: everything
    ("modelport.group.created", {"group": "g"}, set()),
    ("modelport.user.role_changed", {"user_id": "u-bob", "username": "bob", "role": "admin"},
     {(APPS, "bob"), (CASES, "bob"), (JOBS, "bob")}),
    ("modelport.case.created", {"owner": "alice", "groups": []}, {(CASES, "alice")}),
    ("modelport.case.updated", {"owner": "alice"}, {(CASES, "alice")}),  # an older event
    ("modelport.case.deleted", {"owner": "alice", "groups": ["team"]},
     {(CASES, "alice"), (CASES, "bob")}),
    ("modelport.case.updated", {"groups": []}, {(CASES, "alice"), (CASES, "bob")}),
    # any change to a job can move the positions of everyone's queued jobs
    ("modelport.job.queued", {"user": "alice"}, ALL_JOBS),
    ("modelport.job.progress", {"user": "bob"}, ALL_JOBS),
    ("modelport.job.lost", {}, ALL_JOBS),
    ("modelport.session.ready", {"user": "alice"}, set()),
])
def test_each_event_drops_what_it_changes(
    event_type: str, data: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    assert dropped(event_type, **data) == expected


async def test_answers_are_kept_per_user_role_and_query_and_refusals_never() -> None:
    cache = ListCache(60)
    asked: list[str] = []

    def lookup(body: str) -> Any:
        async def look() -> bytes:
            asked.append(body)
            return body.encode()
        return look

    assert await cache.answer(APPS, ALICE, (), lookup("a1")) == b"a1"
    assert await cache.answer(APPS, ALICE, (), lookup("a2")) == b"a1"
    admin = ALICE.model_copy(update={"role": "admin", "is_admin": True})
    assert await cache.answer(APPS, admin, (), lookup("a3")) == b"a3"
    assert await cache.answer(CASES, ALICE, (("limit", 5),), lookup("c1")) == b"c1"
    assert await cache.answer(CASES, ALICE, (("limit", 6),), lookup("c2")) == b"c2"

    async def refused() -> bytes:
        raise NotFound("nope")

    for _ in range(2):
        with pytest.raises(NotFound):
            await cache.answer(APPS, BOB, (), refused)
    assert asked == ["a1", "a3", "c1", "c2"] and len(cache) == 4


async def test_a_lookup_overtaken_by_an_event_answers_its_caller_but_is_not_kept() -> None:
    cache = ListCache(60)
    release = asyncio.Event()

    async def slow() -> bytes:
        await release.wait()
        return b"before the change"

    waiting = asyncio.create_task(cache.answer(APPS, ALICE, (), slow))
    await asyncio.sleep(0)
    cache.on_event(CloudEvent(type="modelport.app.rights_changed", data={"app": "t"}))
    release.set()
    assert await waiting == b"before the change"

    async def fresh() -> bytes:
        return b"after the change"

    assert await cache.answer(APPS, ALICE, (), fresh) == b"after the change"


async def test_ttl_zero_asks_every_time() -> None:
    cache = ListCache(0)
    answers = iter([b"1", b"2"])

    async def lookup() -> bytes:
        return next(answers)

    assert [await cache.answer(APPS, ALICE, (), lookup) for _ in range(2)] == [b"1", b"2"]


async def test_jobs_lists_have_their_own_ttl_and_job_events_leave_other_lists_alone() -> None:
    now = [0.0]
    cache = ListCache(60, jobs_ttl_s=2, clock=lambda: now[0])
    answers = iter([b"apps", b"jobs 1", b"jobs 2", b"jobs 3"])

    async def lookup() -> bytes:
        return next(answers)

    release = asyncio.Event()

    async def slow_apps() -> bytes:
        await release.wait()
        return b"apps in flight"

    assert await cache.answer(APPS, ALICE, (), lookup) == b"apps"
    assert await cache.answer(JOBS, ALICE, (), lookup) == b"jobs 1"
    in_flight = asyncio.create_task(cache.answer(APPS, BOB, (), slow_apps))
    await asyncio.sleep(0)
    now[0] = 1.5
    assert await cache.answer(JOBS, ALICE, (), lookup) == b"jobs 1"
    cache.on_event(CloudEvent(type="modelport.job.started", data={"user": "bob"}))
    release.set()
    assert await in_flight == b"apps in flight"
    assert await cache.answer(JOBS, ALICE, (), lookup) == b"jobs 2"  # the event dropped it
    now[0] = 3.4
    assert await cache.answer(JOBS, ALICE, (), lookup) == b"jobs 2"  # asked at 1.5: kept
    now[0] = 3.6
    assert await cache.answer(JOBS, ALICE, (), lookup) == b"jobs 3"  # 2 s passed
    assert await cache.answer(APPS, ALICE, (), lookup) == b"apps"

    async def asked_again() -> bytes:
        return b"asked again"

    assert await cache.answer(APPS, BOB, (), asked_again) == b"apps in flight"  # kept
    cache.drop_jobs()
    assert len(cache) == 2  # the apps lists


async def test_jobs_ttl_zero_asks_every_time_while_other_lists_are_kept() -> None:
    cache = ListCache(60, jobs_ttl_s=0)
    answers = iter([b"1", b"2", b"apps"])

    async def lookup() -> bytes:
        return next(answers)

    assert [await cache.answer(JOBS, ALICE, (), lookup) for _ in range(2)] == [b"1", b"2"]
    assert [await cache.answer(APPS, ALICE, (), lookup) for _ in range(2)] == [b"apps"] * 2
