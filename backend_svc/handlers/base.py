"""What every handler class shares: its pool, and running one domain call on a connection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, TypeVar

import asyncpg

from backend_svc.quotas import QuotaRules

P = ParamSpec("P")
R = TypeVar("R")


class PoolHandlers:
    """Base of the handler classes that serve from one asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool

    async def _read(
        self, call: Callable[Concatenate[asyncpg.Connection, P], Awaitable[R]],
        *args: P.args, **kwargs: P.kwargs,
    ) -> R:
        """``call(conn, …)`` on a pooled connection, outside a transaction."""
        async with self._pool.acquire() as conn:
            return await call(conn, *args, **kwargs)

    async def _write(
        self, call: Callable[Concatenate[asyncpg.Connection, P], Awaitable[R]],
        *args: P.args, **kwargs: P.kwargs,
    ) -> R:
        """``call(conn, …)`` in one transaction: a change, its audit row and its outbox event
        commit together or not at all."""
        async with self._pool.acquire() as conn, conn.transaction():
            return await call(conn, *args, **kwargs)


class QuotaRuleHandlers(PoolHandlers):
    """Base of the handler classes that also apply the quota rules (cases, quotas)."""

    def __init__(self, pool: asyncpg.Pool, rules: QuotaRules):
        super().__init__(pool)
        self._rules = rules
