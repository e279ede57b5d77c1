"""Answers the portal got from the backend a moment ago, so a burst of requests asks once.

:class:`ShortCache` keeps each successful answer for ``ttl_s`` (at most 1 s: what the backend
changes, a revoked token or a stopped session, shows here within a second), counted from when
the lookup was asked, and lets concurrent requests for the same key share one lookup. A cache
that events invalidate may keep answers longer (``ceiling_s``: :mod:`portal_svc.list_cache`). Only
successes are kept; a refusal is asked again each time. :meth:`ShortCache.forget` drops a key
at once (this portal just changed what it names). Users: the bearer-token cache
(:mod:`portal_svc.token_cache`) and the session proxy's look-ups (:mod:`portal_svc.proxy`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

MAX_TTL_S = 1.0
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ShortCache(Generic[K, V]):
    """Answers for ``ttl_s`` (clamped to ``ceiling_s``, by default :data:`MAX_TTL_S`); at most
    ``max_entries``."""

    def __init__(self, ttl_s: float = MAX_TTL_S, *, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic, ceiling_s: float = MAX_TTL_S):
        self._ttl_s = min(ttl_s, ceiling_s)
        self._max = max_entries
        self._clock = clock
        self._kept: dict[K, tuple[float, V]] = {}
        self._pending: dict[K, asyncio.Task[V]] = {}
        self.epoch = 0
        """Counts :meth:`invalidate` calls."""

    @property
    def ttl_s(self) -> float:
        return self._ttl_s

    def __len__(self) -> int:
        return len(self._kept)

    async def get(self, key: K, lookup: Callable[[], Awaitable[V]]) -> V:
        """The answer for ``key``: kept, being looked up for another request, or ``lookup``'s
        (whose error is raised to every request waiting on it). The lookup runs as its own
        task, so a request that goes away does not cancel it for the others."""
        kept = self._kept.get(key)
        if kept is not None and kept[0] > self._clock():
            return kept[1]
        task = self._pending.get(key)
        if task is None:
            asked = self._clock()  # the answer is as old as the question: count from here
            task = asyncio.create_task(self._look_up(key, lookup, asked, self.epoch))
            task.add_done_callback(_retrieve)
            self._pending[key] = task
        return await asyncio.shield(task)

    async def _look_up(self, key: K, lookup: Callable[[], Awaitable[V]], asked: float,
                       epoch: int) -> V:
        try:
            value = await lookup()
        finally:
            if self._pending.get(key) is asyncio.current_task():
                self._pending.pop(key, None)
        if epoch == self.epoch:  # no invalidation overtook the lookup: the answer may be kept
            self._keep(key, value, asked + self._ttl_s)
        return value

    def _keep(self, key: K, value: V, until: float) -> None:
        if len(self._kept) >= self._max:
            now = self._clock()
            self._kept = {k: v for k, v in self._kept.items() if v[0] > now}
            while len(self._kept) >= self._max:
                del self._kept[next(iter(self._kept))]
        self._kept[key] = (until, value)

    def forget(self, key: K) -> None:
        """Drop ``key`` (what it names was just changed here)."""
        self._kept.pop(key, None)

    def invalidate(self, stale: Callable[[V], bool]) -> None:
        """Drop every kept answer ``stale`` says is stale, and let no lookup in flight be
        shared with later requests or kept (it finishes for its waiters only)."""
        self.epoch += 1
        self._kept = {k: v for k, v in self._kept.items() if not stale(v[1])}
        self._pending.clear()


def _retrieve(task: asyncio.Task[object]) -> None:
    """Mark a failed lookup's error as seen when no request is left waiting for it."""
    if not task.cancelled():
        task.exception()
