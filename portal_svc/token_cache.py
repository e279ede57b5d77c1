"""Tokens the portal resolved a moment ago, so a burst of requests asks the backend once.

Every API request carries a bearer token that the backend resolves to a user (an RPC and a
database round trip). :class:`TokenCache` keeps each answer for ``ttl_s`` (at most 1 s, so a
token revoked anywhere stops working within a second), keyed by the token's sha256 (the token
itself is not kept; the second counts from when the lookup was asked), and lets concurrent
requests with the same token share one lookup. Only successes are kept; a refused token is
asked again each time. Logging out through this portal
forgets the token at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from common.contracts.users import UserOut

MAX_TTL_S = 1.0


def _key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenCache:
    """Resolved tokens for ``ttl_s`` (clamped to :data:`MAX_TTL_S`); at most ``max_entries``."""

    def __init__(self, ttl_s: float = MAX_TTL_S, *, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self._ttl_s = min(ttl_s, MAX_TTL_S)
        self._max = max_entries
        self._clock = clock
        self._users: dict[bytes, tuple[float, UserOut]] = {}
        self._pending: dict[bytes, asyncio.Task[UserOut]] = {}

    async def resolve(self, token: str, lookup: Callable[[str], Awaitable[UserOut]]) -> UserOut:
        """The user of ``token``: kept, being looked up for another request, or ``lookup``'s
        answer (whose error is raised to every request waiting on it). The lookup runs as its
        own task, so a request that goes away does not cancel it for the others."""
        key = _key(token)
        kept = self._users.get(key)
        if kept is not None and kept[0] > self._clock():
            return kept[1]
        task = self._pending.get(key)
        if task is None:
            asked = self._clock()  # the answer is as old as the question: count from here
            task = asyncio.create_task(self._look_up(key, token, lookup, asked))
            task.add_done_callback(_retrieve)
            self._pending[key] = task
        return await asyncio.shield(task)

    async def _look_up(self, key: bytes, token: str,
                       lookup: Callable[[str], Awaitable[UserOut]], asked: float) -> UserOut:
        try:
            user = await lookup(token)
        finally:
            self._pending.pop(key, None)
        self._keep(key, user, asked + self._ttl_s)
        return user

    def _keep(self, key: bytes, user: UserOut, until: float) -> None:
        if len(self._users) >= self._max:
            now = self._clock()
            self._users = {k: v for k, v in self._users.items() if v[0] > now}
            while len(self._users) >= self._max:
                del self._users[next(iter(self._users))]
        self._users[key] = (until, user)

    def forget(self, token: str) -> None:
        """Drop ``token`` (it was just revoked here)."""
        self._users.pop(_key(token), None)


def _retrieve(task: asyncio.Task[UserOut]) -> None:
    """Mark a failed lookup's error as seen when no request is left waiting for it."""
    if not task.cancelled():
        task.exception()


TOKEN_CACHE = web.AppKey("token_cache", TokenCache)
