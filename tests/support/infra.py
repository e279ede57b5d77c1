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


def _rabbitmqctl(*args: str) -> str:
    done = subprocess.run([RABBITMQCTL, "-q", *args], check=True, capture_output=True,
                          text=True, timeout=60)
    return done.stdout


def _binaries(names: list[str]) -> str:
    return "[" + ", ".join(f'<<"{n}">>' for n in names) + "]"


def _url(vhost: str) -> str:
    return AMQP_BASE.rstrip("/") + "/" + quote(vhost, safe="")


class VhostPool:
    """Fresh vhosts made and deleted in batches: one ``rabbitmqctl eval`` per batch instead
    of three CLI calls (about 2 s) per test."""

    def __init__(self, batch: int = 16):
        self._batch = batch
        self._fresh: list[str] = []
        self._used: list[str] = []  # given back, not yet deleted
        self._taken: set[str] = set()  # in use

    def take(self) -> tuple[str, str]:
        """A vhost nobody has used, with full rights for guest; returns (name, url)."""
        if not self._fresh:
            names = [unique("mp-t-") for _ in range(self._batch)]
            _rabbitmqctl("eval", "[begin ok = rabbit_vhost:add(V, <<\"tests\">>), "
                         "ok = rabbit_auth_backend_internal:set_permissions(<<\"guest\">>, V, "
                         "<<\".*\">>, <<\".*\">>, <<\".*\">>, <<\"tests\">>) end "
                         f"|| V <- {_binaries(names)}].")
            self._fresh = names
        name = self._fresh.pop()
        self._taken.add(name)
        return name, _url(name)

    def give_back(self, name: str) -> None:
        """Mark ``name`` done; vhosts given back are deleted a batch at a time (one still
        taken, such as a module fixture's, is never deleted under its user)."""
        self._taken.discard(name)
        self._used.append(name)
        if len(self._used) >= self._batch:
            self.close(keep_fresh=True)

    def close(self, keep_fresh: bool = False) -> None:
        """Delete the vhosts given back (and, unless ``keep_fresh``, at the session's end,
        every other one this pool made)."""
        doomed = self._used + ([] if keep_fresh else self._fresh + sorted(self._taken))
        if doomed:
            _rabbitmqctl("eval", f"[rabbit_vhost:delete(V, <<\"tests\">>) "
                                 f"|| V <- {_binaries(doomed)}].")
        self._used = []
        if not keep_fresh:
            self._fresh, self._taken = [], set()
