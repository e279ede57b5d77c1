"""Opening PostgreSQL: create the database when missing, then a pool, with retry."""

from __future__ import annotations

import json
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from common.backoff import retry
from common.errors import DatabaseUnavailable

_RETRY_ON = (OSError, ConnectionError, asyncpg.CannotConnectNowError,
             asyncpg.TooManyConnectionsError)


# What a lost or refused connection raises: the server is down, restarting or unreachable.
LINK_ERRORS = (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
               asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError,
               asyncpg.exceptions.OperatorInterventionError)


def unavailable(exc: Exception) -> DatabaseUnavailable | None:
    """``database_unavailable`` for an error of the link to PostgreSQL (RPC replies say it
    instead of "internal error"; the pool replaces broken connections by itself), else None."""
    if isinstance(exc, LINK_ERRORS):
        return DatabaseUnavailable(detail=type(exc).__name__)
    return None


def _maintenance_dsn(dsn: str) -> tuple[str, str]:
    """(DSN of the ``postgres`` database on the same server, the target database's name)."""
    parts = urlsplit(dsn)
    database = parts.path.lstrip("/") or "postgres"
    return urlunsplit(parts._replace(path="/postgres")), database


async def ensure_database(dsn: str, *, deadline_s: float) -> None:
    """Create the DSN's database if it does not exist (first start of a fresh server)."""
    admin_dsn, database = _maintenance_dsn(dsn)

    async def attempt() -> None:
        try:
            conn = await asyncpg.connect(dsn)
        except asyncpg.InvalidCatalogNameError:
            conn = await asyncpg.connect(admin_dsn)
            try:
                await conn.execute(f'CREATE DATABASE "{database.replace(chr(34), "")}"')
            except asyncpg.DuplicateDatabaseError:
                pass  # another replica was quicker
        await conn.close()

    await retry(attempt, what="postgres_connect", deadline_s=deadline_s, retry_on=_RETRY_ON)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _release_as_is(conn: asyncpg.Connection) -> None:
    """Pool release without asyncpg's reset query (one round trip per release): pooled
    connections keep no session state (no LISTEN, SET or session advisory lock; those live on
    :func:`connect`'s own connections), and an open transaction is still rolled back."""


async def create_pool(dsn: str, *, max_size: int, deadline_s: float) -> asyncpg.Pool:
    """A connection pool whose connections encode and decode JSON columns as Python values."""

    async def attempt() -> asyncpg.Pool:
        pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=max_size, init=_init_connection, reset=_release_as_is
        )
        assert pool is not None
        return pool

    return await retry(attempt, what="postgres_pool", deadline_s=deadline_s, retry_on=_RETRY_ON)


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection with the pool's codecs (for the relay's lock and LISTEN)."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn
