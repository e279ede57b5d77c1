"""The portal's revocation bookkeeping, as pure logic (a fake lookup, no servers): which open
streams a revocation closes, a stream whose token lookup was overtaken by a revocation, and a
token lookup in flight during one. End to end: tests/access/test_live_revocation.py."""

from __future__ import annotations

import asyncio

from common.contracts.events import CloudEvent, UserDisabled
from common.contracts.tokens import TokensRevoked
from common.contracts.users import TokenHolder
from portal_svc.auth import Caller
from portal_svc.live.revocation import OpenStreams
from portal_svc.token_cache import TokenCache


def holder(user: str, token_id: str) -> TokenHolder:
    return TokenHolder.model_validate({
        "id": user, "username": user, "display_name": "", "is_admin": False,
        "created_at": "2026-01-01T00:00:00Z", "token_id": token_id, "scope": "read",
        "expires_at": "2027-01-01T00:00:00Z"})


def caller(user: str, token_id: str, epoch: int = 0) -> Caller:
    return Caller(user=holder(user, token_id), token=f"mp_{token_id}", epoch=epoch)


def test_a_revocation_closes_the_matching_streams_only() -> None:
    streams = OpenStreams(TokenCache())
    closed: list[str] = []
    with streams.track(caller("ann", "t1"), lambda: closed.append("ann/t1")), \
            streams.track(caller("ann", "t2"), lambda: closed.append("ann/t2")), \
            streams.track(caller("bob", "t3"), lambda: closed.append("bob/t3")):
        assert streams.revoke("ann", ["t1"], "revoked") == 1
        assert closed == ["ann/t1"]
        event = TokensRevoked(user_id="ann", token_ids=[], all=True, reason="everywhere")
        streams.on_event(CloudEvent(type=TokensRevoked.TYPE, data=event.model_dump()))
        assert closed == ["ann/t1", "ann/t2"] and len(streams) == 1
        disabled = UserDisabled(user_id="bob", username="bob").model_dump()
        streams.on_event(CloudEvent(type=UserDisabled.DISABLED, data=disabled))
        assert closed == ["ann/t1", "ann/t2", "bob/t3"] and len(streams) == 0
        streams.on_event(CloudEvent(type=TokensRevoked.TYPE, data={"user_id": 1}))  # ignored
    assert len(streams) == 0


def test_a_stream_whose_lookup_a_revocation_overtook_closes_as_it_opens() -> None:
    cache: TokenCache[TokenHolder] = TokenCache()
    streams = OpenStreams(cache)
    before = cache.epoch  # read as auth.resolve does, before the lookup
    streams.revoke("ann", None, "everywhere")  # the event arrives meanwhile
    closed: list[str] = []
    with streams.track(caller("ann", "t1", before), lambda: closed.append("ann")), \
            streams.track(caller("bob", "t2", before), lambda: closed.append("bob")):
        assert closed == ["ann"]
    with streams.track(caller("ann", "t9", cache.epoch), lambda: closed.append("later")):
        assert closed == ["ann"]
    before = cache.epoch
    streams.revoke("ann", ["t1"], "revoked")  # one token: another of ann's is not overtaken
    with streams.track(caller("ann", "t1", before), lambda: closed.append("t1")), \
            streams.track(caller("ann", "t2", before), lambda: closed.append("t2")):
        assert closed == ["ann", "t1"]


async def test_a_lookup_in_flight_during_a_revocation_is_neither_kept_nor_shared() -> None:
    cache: TokenCache[TokenHolder] = TokenCache()
    gate, calls = asyncio.Event(), []

    async def lookup(token: str) -> TokenHolder:
        calls.append(token)
        await gate.wait()
        return holder("ann", "t1")

    first = asyncio.create_task(cache.resolve("mp_t1", lookup))
    await asyncio.sleep(0)
    cache.revoked("ann")
    second = asyncio.create_task(cache.resolve("mp_t1", lookup))  # not joined to the first
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(first, second)
    assert len(calls) == 2
    await cache.resolve("mp_t1", lookup)  # the second lookup started after: it was kept
    assert len(calls) == 2
