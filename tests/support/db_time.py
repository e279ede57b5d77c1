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


async def restart_slots(pg_dsn: str, table: str, ids: list[str]) -> dict[str, datetime]:
    """``not_before`` (the restart slot) of each row of ``table`` (``jobs`` or ``sessions``)
    by id."""
    assert table in ("jobs", "sessions")
    conn = await asyncpg.connect(pg_dsn)
    try:
        rows = await conn.fetch(f"SELECT id::text, not_before FROM {table} "
                                "WHERE id = ANY($1::uuid[])", ids)
    finally:
        await conn.close()
    return {r["id"]: r["not_before"] for r in rows}
