"""What the database holds, table by table, to prove that a refused request changed nothing.

``await tables(conn)`` gives, for every table of the ``public`` schema, its row count and an
md5 over the text of all its rows in a fixed order, so an update that keeps the count (a
renamed case, a flipped flag) shows as well as an insert or a delete::

    before = await tables(conn)
    ...  # the refused request
    assert await tables(conn) == before
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import asyncpg

# Columns written while nothing changes: when an API token was last used (any request), when
# the relay published an event and when a worker last reported (in the background).
VOLATILE: Mapping[str, Collection[str]] = {
    "api_tokens": ("last_used_at",),
    "outbox": ("published_at",),
    "workers": ("last_report_at",),
    "docker_host_reports": ("reported_at", "healthy", "used_slots", "used_memory_mb"),
}


@dataclass(frozen=True)
class TableState:
    rows: int
    md5: str  # of every row's text (volatile columns left out), sorted, joined by '|'


async def _columns(conn: asyncpg.Connection, table: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position", table)
    return [r["column_name"] for r in rows]


async def table_state(conn: asyncpg.Connection, table: str,
                      ignore: Collection[str] = ()) -> TableState:
    """The row count and content digest of one table, leaving out the ``ignore`` columns."""
    kept = [c for c in await _columns(conn, table) if c not in ignore]
    row = ", ".join(f'"{c}"' for c in kept)
    found = await conn.fetchrow(
        f"SELECT count(*) AS n, md5(coalesce(string_agg(r, '|' ORDER BY r), '')) AS digest "
        f'FROM (SELECT ROW({row})::text AS r FROM "{table}") AS t')
    assert found is not None
    return TableState(found["n"], found["digest"])


async def tables(conn: asyncpg.Connection, names: Collection[str] | None = None, *,
                 ignore: Mapping[str, Collection[str]] = VOLATILE) -> dict[str, TableState]:
    """The state of each table in ``names`` (default: every table of the public schema)."""
    if names is None:
        names = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
    return {name: await table_state(conn, name, ignore.get(name, ())) for name in names}
