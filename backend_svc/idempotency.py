"""Idempotency-Key of job submits and session creates: a client that retries after a
failure (timeout, dropped connection, a replica dying mid-request) gets what its first try
made (the job, the session), never a second one.

:func:`claim` runs first in the create's transaction: it inserts the (user, key) row or, when
another transaction holds or committed it, waits for that one and answers its id. A key
reused with a different request is refused (409). Both it and :func:`bind` do nothing for a
request without a key, so a create calls them whether or not a key came. Rows older than
:data:`KEEP` are purged per user on that user's next keyed request, so keys are honoured for
at least that long.
Jobs keep their keys in ``job_idempotency`` (migration 0007), sessions in
``session_idempotency`` (0013): :data:`JOBS` and :data:`SESSIONS` name them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from common.contracts.jobs import SubmitJob
from common.contracts.sessions import CreateSession
from common.errors import Conflict

KEEP = timedelta(hours=24)


@dataclass(frozen=True)
class Keys:
    """Where the keys of one kind of thing live: its table, the id column, its name."""

    table: str
    column: str
    what: str


JOBS = Keys("job_idempotency", "job_id", "job")
SESSIONS = Keys("session_idempotency", "session_id", "session")


Keyed = SubmitJob | CreateSession  # the create requests that may carry a key


def request_sha256(request: Keyed) -> str:
    """The digest of what the request asks for (not who asks, not the key)."""
    body = request.model_dump(mode="json", exclude={"actor", "idempotency_key"})
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


async def claim(conn: asyncpg.Connection, keys: Keys, user_id: uuid.UUID, request: Keyed
                ) -> uuid.UUID | None:
    """None when the request has no key or a key new for this user (the caller inserts the
    row, then :func:`bind`); the earlier id when the same request came with this key before.
    Raises Conflict ``idempotency_key_reused`` for a different request under the key."""
    key = request.idempotency_key
    if key is None:
        return None
    digest = request_sha256(request)
    await conn.execute(f"DELETE FROM {keys.table} WHERE user_id = $1 AND created_at < "
                       "now() - $2::interval", user_id, KEEP)
    inserted = await conn.fetchval(
        f"INSERT INTO {keys.table} (user_id, key, request_sha256) VALUES ($1, $2, $3) "
        "ON CONFLICT (user_id, key) DO NOTHING RETURNING true", user_id, key, digest)
    if inserted:
        return None
    row = await conn.fetchrow(
        f"SELECT request_sha256, {keys.column} AS made FROM {keys.table} "
        "WHERE user_id = $1 AND key = $2", user_id, key)
    if row is None or row["made"] is None:  # what it made was deleted since
        raise Conflict(f"Idempotency-Key {key!r} was used for a {keys.what} that no longer "
                       "exists; use a new key", code="idempotency_key_reused")
    if row["request_sha256"] != digest:
        raise Conflict(f"Idempotency-Key {key!r} was already used with a different request "
                       f"({keys.what} {row['made']}); use a new key for a new {keys.what}",
                       code="idempotency_key_reused")
    result: uuid.UUID = row["made"]
    return result


async def bind(conn: asyncpg.Connection, keys: Keys, user_id: uuid.UUID, request: Keyed,
               made: uuid.UUID) -> None:
    """Link the request's claimed key to the row just inserted (same transaction); nothing
    for a request without a key."""
    if request.idempotency_key is not None:
        await conn.execute(f"UPDATE {keys.table} SET {keys.column} = $3 "
                           "WHERE user_id = $1 AND key = $2", user_id, request.idempotency_key,
                           made)
