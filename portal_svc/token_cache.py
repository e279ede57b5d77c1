"""Tokens the portal resolved a moment ago, so a burst of requests asks the backend once.

Every API request carries a bearer token that the backend resolves to a user (an RPC and a
database round trip). :class:`TokenCache` keeps the answers in a
:class:`~portal_svc.short_cache.ShortCache` keyed by the token's sha256 (the token itself is
not kept): a token revoked anywhere stops working within a second; logging out through this
portal forgets the token at once.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from common.contracts.users import UserOut
from portal_svc.short_cache import MAX_TTL_S, ShortCache

__all__ = ["MAX_TTL_S", "TOKEN_CACHE", "TokenCache"]


def _key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenCache:
    """Resolved tokens for ``ttl_s`` (at most 1 s); at most ``max_entries``."""

    def __init__(self, ttl_s: float = MAX_TTL_S, *, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self._users: ShortCache[bytes, UserOut] = ShortCache(
            ttl_s, max_entries=max_entries, clock=clock)

    @property
    def ttl_s(self) -> float:
        return self._users.ttl_s

    def __len__(self) -> int:
        return len(self._users)

    async def resolve(self, token: str, lookup: Callable[[str], Awaitable[UserOut]]) -> UserOut:
        """The user of ``token``, asked of ``lookup`` once a second at most."""
        return await self._users.get(_key(token), lambda: lookup(token))

    def forget(self, token: str) -> None:
        """Drop ``token`` (it was just revoked here)."""
        self._users.forget(_key(token))


TOKEN_CACHE = web.AppKey("token_cache", TokenCache)
