"""Per-test isolation on the shared servers: a fresh database, a fresh vhost, a fresh bucket.

The servers themselves are the machine's PostgreSQL and RabbitMQ (``scripts/test`` makes sure
they answer) and one SeaweedFS process per test session.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from urllib.parse import quote

import asyncpg

PG_ADMIN_DSN = os.environ.get("MODELPORT_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_BASE = os.environ.get("MODELPORT_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
RABBITMQCTL = os.environ.get("MODELPORT_TEST_RABBITMQCTL", "rabbitmqctl")


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def dsn_for(database: str) -> str:
    base, _, _ = PG_ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


async def create_database() -> str:
    name = unique("mp_t_")
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _rabbitmqctl(*args: str) -> None:
    subprocess.run([RABBITMQCTL, "-q", *args], check=True, capture_output=True, timeout=60)


def create_vhost() -> tuple[str, str]:
    """A new vhost with full rights for guest; returns (name, amqp url)."""
    name = unique("mp-t-")
    _rabbitmqctl("add_vhost", name)
    _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return name, AMQP_BASE.rstrip("/") + "/" + quote(name, safe="")


def delete_vhost(name: str) -> None:
    _rabbitmqctl("delete_vhost", name)
