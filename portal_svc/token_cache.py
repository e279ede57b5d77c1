"""Tokens the portal resolved a moment ago, so a burst of requests asks the backend once.

Every API request carries a bearer token that the backend resolves to a user (an RPC and a
database round trip). :class:`TokenCache` keeps each answer for ``ttl_s`` (at most 1 s, so a
token revoked anywhere stops working within a second), keyed by the token's sha256 (the token
itself is not kept; the second counts from when the lookup was asked), and lets concurrent
requests with the same token share one lookup. Only successes are kept; a refused token is
asked again each time. Logging out through this portal
forgets the token at once, and a revocation event (``modelport.token.revoked``,
``modelport.user.disabled``, :mod:`portal_svc.live.revocation`) forgets every token of its
user at once: :meth:`TokenCache.revoked` also makes lookups already in flight unshareable and
unkept, and bumps :attr:`TokenCache.epoch`, so a stream that resolved its token just before the
event learns it was overtaken (:meth:`TokenCache.revoked_since`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from aiohttp import web

from common.contracts.users import TokenHolder, UserOut

MAX_TTL_S = 1.0
REMEMBERED_REVOCATIONS = 10_000
U = TypeVar("U", bound=UserOut)


def _key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenCache(Generic[U]):
    """Resolved tokens for ``ttl_s`` (clamped to :data:`MAX_TTL_S`); at most ``max_entries``."""

    def __init__(self, ttl_s: float = MAX_TTL_S, *, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self._ttl_s = min(ttl_s, MAX_TTL_S)
        self._max = max_entries
        self._clock = clock
        self._users: dict[bytes, tuple[float, U]] = {}
        self._pending: dict[bytes, asyncio.Task[U]] = {}
        self.epoch = 0
        """Counts revocation events; read it before :meth:`resolve` to ask
        :meth:`revoked_since` later."""
        self._revoked_at: OrderedDict[str, int] = OrderedDict()

    async def resolve(self, token: str, lookup: Callable[[str], Awaitable[U]]) -> U:
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
            task = asyncio.create_task(self._look_up(key, token, lookup, asked, self.epoch))
            task.add_done_callback(_retrieve)
            self._pending[key] = task
        return await asyncio.shield(task)

    async def _look_up(self, key: bytes, token: str, lookup: Callable[[str], Awaitable[U]],
                       asked: float, epoch: int) -> U:
        try:
            user = await lookup(token)
        finally:
            if self._pending.get(key) is asyncio.current_task():
                self._pending.pop(key, None)
        if epoch == self.epoch:  # no revocation overtook the lookup: the answer may be kept
            self._keep(key, user, asked + self._ttl_s)
        return user

    def _keep(self, key: bytes, user: U, until: float) -> None:
        if len(self._users) >= self._max:
            now = self._clock()
            self._users = {k: v for k, v in self._users.items() if v[0] > now}
            while len(self._users) >= self._max:
                del self._users[next(iter(self._users))]
        self._users[key] = (until, user)

    def forget(self, token: str) -> None:
        """Drop ``token`` (it was just revoked here)."""
        self._users.pop(_key(token), None)

    def revoked(self, user_id: str, token_ids: list[str] | None = None) -> None:
        """Tokens of ``user_id`` were revoked (``token_ids``, or all of them: sign out
        everywhere, the account disabled): forget every token of the user, and let no lookup
        already in flight be shared or kept."""
        self.epoch += 1
        self._users = {k: v for k, v in self._users.items() if v[1].id != user_id}
        self._pending.clear()  # running lookups finish for their waiters only
        for key in [f"user:{user_id}"] if token_ids is None else \
                [f"token:{t}" for t in token_ids]:
            self._revoked_at[key] = self.epoch
            self._revoked_at.move_to_end(key)
        while len(self._revoked_at) > REMEMBERED_REVOCATIONS:
            self._revoked_at.popitem(last=False)

    def revoked_since(self, user_id: str, token_id: str, epoch: int) -> bool:
        """Whether the token, or every token of its user, was revoked after :attr:`epoch` was
        ``epoch`` (conservatively True when that is older than the revocations remembered)."""
        for key in (f"user:{user_id}", f"token:{token_id}"):
            if self._revoked_at.get(key, -1) > epoch:
                return True
        oldest = next(iter(self._revoked_at.values()), None)
        return len(self._revoked_at) >= REMEMBERED_REVOCATIONS and oldest is not None \
            and oldest > epoch


def _retrieve(task: asyncio.Task[U]) -> None:
    """Mark a failed lookup's error as seen when no request is left waiting for it."""
    if not task.cancelled():
        task.exception()


TOKEN_CACHE: web.AppKey[TokenCache[TokenHolder]] = web.AppKey("token_cache")
