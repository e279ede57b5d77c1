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

import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from aiohttp import web

from common.contracts.users import TokenHolder, UserOut
from portal_svc.short_cache import MAX_TTL_S, ShortCache

REMEMBERED_REVOCATIONS = 10_000
U = TypeVar("U", bound=UserOut)


def _key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenCache(Generic[U]):
    """Resolved tokens for ``ttl_s`` (clamped to :data:`MAX_TTL_S`); at most ``max_entries``."""

    def __init__(self, ttl_s: float = MAX_TTL_S, *, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self._users: ShortCache[bytes, U] = ShortCache(ttl_s, max_entries=max_entries,
                                                       clock=clock)
        self._revoked_at: OrderedDict[str, int] = OrderedDict()

    @property
    def ttl_s(self) -> float:
        return self._users.ttl_s

    @property
    def epoch(self) -> int:
        """Counts revocation events; read it before :meth:`resolve` to ask
        :meth:`revoked_since` later."""
        return self._users.epoch

    def __len__(self) -> int:
        return len(self._users)

    async def resolve(self, token: str, lookup: Callable[[str], Awaitable[U]]) -> U:
        """The user of ``token``: kept, being looked up for another request, or ``lookup``'s
        answer (see :meth:`ShortCache.get`)."""
        return await self._users.get(_key(token), lambda: lookup(token))

    def forget(self, token: str) -> None:
        """Drop ``token`` (it was just revoked here)."""
        self._users.forget(_key(token))

    def revoked(self, user_id: str, token_ids: list[str] | None = None) -> None:
        """Tokens of ``user_id`` were revoked (``token_ids``, or all of them: sign out
        everywhere, the account disabled): forget every token of the user, and let no lookup
        already in flight be shared or kept."""
        self._users.invalidate(lambda user: user.id == user_id)
        for key in [f"user:{user_id}"] if token_ids is None else \
                [f"token:{t}" for t in token_ids]:
            self._revoked_at[key] = self._users.epoch
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


TOKEN_CACHE: web.AppKey[TokenCache[TokenHolder]] = web.AppKey("token_cache")
