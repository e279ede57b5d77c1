"""The portal's token cache: answers kept at most a second, one lookup per burst, failures
never kept, a logged-out token forgotten at once."""

from __future__ import annotations

import asyncio

import pytest

from common.contracts.users import UserOut
from common.errors import Unauthenticated
from portal_svc.token_cache import MAX_TTL_S, TokenCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Backend:
    """Counts lookups; answers a user, or refuses tokens listed in ``refused``."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.refused: set[str] = set()
        self.gate: asyncio.Event | None = None

    async def lookup(self, token: str) -> UserOut:
        self.calls.append(token)
        if self.gate is not None:
            await self.gate.wait()
        if token in self.refused:
            raise Unauthenticated("the token is unknown, expired or revoked")
        return UserOut.model_validate({
            "id": "00000000-0000-0000-0000-00000000000" + token[-1], "username": token,
            "display_name": "", "is_admin": False,
            "created_at": "2024-01-01T00:00:00Z"})


async def test_an_answer_is_kept_for_the_ttl_only() -> None:
    clock, backend = Clock(), Backend()
    cache = TokenCache(0.5, clock=clock)
    first = await cache.resolve("tok1", backend.lookup)
    clock.now += 0.49
    assert await cache.resolve("tok1", backend.lookup) == first
    assert backend.calls == ["tok1"]
    clock.now += 0.02
    await cache.resolve("tok1", backend.lookup)
    assert backend.calls == ["tok1", "tok1"]


def test_the_ttl_is_at_most_a_second() -> None:
    clock = Clock()
    cache = TokenCache(60, clock=clock)
    assert cache.ttl_s == MAX_TTL_S == 1.0


async def test_a_burst_shares_one_lookup() -> None:
    backend = Backend()
    backend.gate = asyncio.Event()
    cache = TokenCache(clock=Clock())
    waiting = [asyncio.create_task(cache.resolve("tok1", backend.lookup)) for _ in range(20)]
    await asyncio.sleep(0)  # let every request reach the cache
    backend.gate.set()
    users = await asyncio.gather(*waiting)
    assert backend.calls == ["tok1"] and len({u.id for u in users}) == 1


async def test_a_refusal_reaches_every_waiter_and_is_not_kept() -> None:
    backend = Backend()
    backend.refused.add("bad1")
    backend.gate = asyncio.Event()
    cache = TokenCache(clock=Clock())
    waiting = [asyncio.create_task(cache.resolve("bad1", backend.lookup)) for _ in range(3)]
    await asyncio.sleep(0)
    backend.gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, Unauthenticated) for r in results)
    with pytest.raises(Unauthenticated):
        await cache.resolve("bad1", backend.lookup)
    assert backend.calls == ["bad1", "bad1"]


async def test_a_request_that_goes_away_does_not_cancel_the_lookup_for_others() -> None:
    backend = Backend()
    backend.gate = asyncio.Event()
    cache = TokenCache(clock=Clock())
    leaving = asyncio.create_task(cache.resolve("tok1", backend.lookup))
    staying = asyncio.create_task(cache.resolve("tok1", backend.lookup))
    await asyncio.sleep(0)
    leaving.cancel()
    backend.gate.set()
    assert (await staying).username == "tok1"
    assert leaving.cancelled() and backend.calls == ["tok1"]


async def test_forget_drops_a_token_at_once() -> None:
    backend = Backend()
    cache = TokenCache(clock=Clock())
    await cache.resolve("tok1", backend.lookup)
    cache.forget("tok1")
    backend.refused.add("tok1")
    with pytest.raises(Unauthenticated):
        await cache.resolve("tok1", backend.lookup)


async def test_entries_are_bounded() -> None:
    clock, backend = Clock(), Backend()
    cache = TokenCache(clock=clock, max_entries=3)
    for n in range(5):
        await cache.resolve(f"tok{n}", backend.lookup)
    assert len(cache) == 3
    await cache.resolve("tok4", backend.lookup)  # the newest is still kept
    assert backend.calls.count("tok4") == 1


async def test_the_ttl_counts_from_when_the_lookup_was_asked() -> None:
    """A revocation right after the backend answered still takes effect within the TTL."""
    clock, backend = Clock(), Backend()
    backend.gate = asyncio.Event()
    cache = TokenCache(1.0, clock=clock)
    asked = asyncio.create_task(cache.resolve("tok1", backend.lookup))
    await asyncio.sleep(0)
    clock.now += 0.4  # a slow answer
    backend.gate.set()
    await asked
    clock.now += 0.61  # 1.01 s after the question
    await cache.resolve("tok1", backend.lookup)
    assert backend.calls == ["tok1", "tok1"]
