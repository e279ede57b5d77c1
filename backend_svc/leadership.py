"""Exclusive duties (outbox relay, scheduler, reaper) held by one replica at a time.

A duty's leader holds a session-level PostgreSQL advisory lock on a dedicated connection;
when that replica dies its connection closes, the lock is released and another replica's
next attempt takes it over.
"""

from __future__ import annotations

import asyncpg


class AdvisoryLease:
    """Try to hold advisory lock ``key`` on ``conn``; :attr:`held` tells whether we lead."""

    def __init__(self, conn: asyncpg.Connection, key: int):
        self._conn = conn
        self._key = key
        self.held = False

    async def try_acquire(self) -> bool:
        if not self.held:
            got = await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", self._key)
            self.held = bool(got)
        return self.held

    async def release(self) -> None:
        if self.held and not self._conn.is_closed():
            await self._conn.execute("SELECT pg_advisory_unlock($1)", self._key)
        self.held = False
