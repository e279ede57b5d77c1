"""Migrations on a real PostgreSQL: concurrent replicas apply each file once."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from backend_svc.migrations import Migration, MigrationError, apply_migrations, load_migrations
from backend_svc.service import BackendService
from tests.backend.conftest import backend_settings

# A migration that holds its transaction open a moment, so two replicas really overlap.
SLOW = Migration(9001, "slow", "SELECT pg_sleep(0.3); CREATE TABLE slow_marker (x int);")


async def test_packaged_migrations_are_numbered_without_gaps() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


async def test_two_concurrent_appliers_apply_each_migration_once(pg_dsn: str) -> None:
    migrations = [*load_migrations(), SLOW]
    conns = [await asyncpg.connect(pg_dsn) for _ in range(2)]
    try:
        applied = await asyncio.gather(*(apply_migrations(c, migrations) for c in conns))
        rows = await conns[0].fetch("SELECT version FROM schema_migrations ORDER BY version")
    finally:
        for conn in conns:
            await conn.close()
    all_versions = [m.version for m in migrations]
    assert sorted(applied, key=len) == [[], all_versions]  # one did everything, one nothing
    assert [r["version"] for r in rows] == all_versions


async def test_two_backends_starting_together_share_one_schema(
    pg_dsn: str, amqp_url: str
) -> None:
    services = [BackendService(backend_settings(pg_dsn, amqp_url)) for _ in range(2)]
    await asyncio.gather(*(s.start() for s in services))
    try:
        conn = await asyncpg.connect(pg_dsn)
        count = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        admins = await conn.fetchval("SELECT count(*) FROM users")
        await conn.close()
    finally:
        await asyncio.gather(*(s.stop() for s in services))
    assert count == len(load_migrations()) and admins == 1


async def test_an_edited_applied_migration_stops_start_up(pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        await apply_migrations(conn, [SLOW])
        edited = Migration(SLOW.version, SLOW.name, SLOW.sql + " -- edited")
        with pytest.raises(MigrationError, match="9001_slow changed after it was applied"):
            await apply_migrations(conn, [edited])
    finally:
        await conn.close()
