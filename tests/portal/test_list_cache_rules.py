"""Which kept lists each event drops, and how the list cache keeps answers (pure logic)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from common.contracts.base import Principal
from common.contracts.events import CloudEvent
from common.errors import NotFound
from portal_svc.list_cache import APPS, CASES, Answer, ListCache, stale_after

ALICE = Principal(user_id="u-alice", username="alice")
BOB = Principal(user_id="u-bob", username="bob")
KEPT = [Answer(kind, who.user_id, who.username, b"{}") for kind in (APPS, CASES)
        for who in (ALICE, BOB)]


def dropped(event_type: str, **data: Any) -> set[tuple[str, str]]:
    stale = stale_after(CloudEvent(type=event_type, data=data))
    return set() if stale is None else {(a.kind, a.username) for a in KEPT if stale(a)}


EVERYTHING = {(k, u) for k in (APPS, CASES) for u in ("alice", "bob")}


@pytest.mark.parametrize("event_type,data,expected", [
    ("modelport.app.version_published", {"app": "t"}, {(APPS, "alice"), (APPS, "bob")}),
    ("modelport.app.activated", {"app": "t"}, {(APPS, "alice"), (APPS, "bob")}),
    ("modelport.app.rights_changed", {"app": "t"}, {(APPS, "alice"), (APPS, "bob")}),
    ("modelport.app.deleted", {"app": "t"}, EVERYTHING),  # its cases lose the version
    ("modelport.group.member_added", {"group": "g", "username": "alice"},
     {(APPS, "alice"), (CASES, "alice"), (CASES, "bob")}),
    ("modelport.group.member_removed", {"group": "g", "username": "bob"},
     {(APPS, "bob"), (CASES, "alice"), (CASES, "bob")}),
    ("modelport.group.member_removed", {"group": "g"}, EVERYTHING),  # malformed: everything
    ("modelport.group.created", {"group": "g"}, set()),
    ("modelport.user.role_changed", {"user_id": "u-bob", "username": "bob", "role": "admin"},
     {(APPS, "bob"), (CASES, "bob")}),
    ("modelport.case.created", {"owner": "alice", "groups": []}, {(CASES, "alice")}),
    ("modelport.case.updated", {"owner": "alice"}, {(CASES, "alice")}),  # an older event
    ("modelport.case.deleted", {"owner": "alice", "groups": ["team"]},
     {(CASES, "alice"), (CASES, "bob")}),
    ("modelport.case.updated", {"groups": []}, {(CASES, "alice"), (CASES, "bob")}),
    ("modelport.job.queued", {"owner": "alice"}, set()),
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
