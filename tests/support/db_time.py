"""The database's clock, for tests that compare stored times (slots, autosaves) with now."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def db_now(pg_dsn: str) -> datetime:
    """PostgreSQL's ``now()`` on a fresh connection."""
    conn = await asyncpg.connect(pg_dsn)
    try:
        now: datetime = await conn.fetchval("SELECT now()")
        return now
    finally:
        await conn.close()
