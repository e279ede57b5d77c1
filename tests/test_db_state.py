"""tests/support/db_state.py: an update that keeps the row count still changes the state."""

from __future__ import annotations

import asyncpg

from tests.support.db_state import tables


async def test_updates_inserts_and_volatile_columns(pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute("CREATE TABLE api_tokens (id int, name text, last_used_at int)")
        await conn.execute("CREATE TABLE empty (id int)")
        await conn.execute("INSERT INTO api_tokens VALUES (1, 'a', NULL), (2, 'b', NULL)")
        before = await tables(conn)
        assert before["api_tokens"].rows == 2 and before["empty"].rows == 0

        await conn.execute("UPDATE api_tokens SET last_used_at = 5")  # volatile: left out
        assert await tables(conn) == before

        await conn.execute("UPDATE api_tokens SET name = 'c' WHERE id = 2")  # same count
        renamed = await tables(conn)
        assert renamed["api_tokens"].rows == 2
        assert renamed["api_tokens"].md5 != before["api_tokens"].md5
        assert renamed["empty"] == before["empty"]

        await conn.execute("UPDATE api_tokens SET name = 'b' WHERE id = 2")
        assert await tables(conn) == before  # the digest does not depend on row order on disk
        assert await tables(conn, ["empty"]) == {"empty": before["empty"]}
    finally:
        await conn.close()
