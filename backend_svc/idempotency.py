"""Idempotency-Key of job submits: a client that retries after a failure (timeout, dropped
connection, a replica dying mid-request) gets the job of its first try, never a second one.

:func:`claim` runs first in the submit's transaction: it inserts the (user, key) row or, when
another transaction holds or committed it, waits for that one and answers its job. A key
reused with a different request is refused (409). Rows older than :data:`KEEP` are purged
per user on that user's next keyed submit, so keys are honoured for at least that long.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

import asyncpg

from common.contracts.jobs import SubmitJob
from common.errors import Conflict

KEEP = timedelta(hours=24)


def request_sha256(request: SubmitJob) -> str:
    """The digest of what the request asks for (not who asks, not the key)."""
    body = request.model_dump(mode="json", exclude={"actor", "idempotency_key"})
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


async def claim(conn: asyncpg.Connection, user_id: uuid.UUID, request: SubmitJob
                ) -> uuid.UUID | None:
    """None when the key is new for this user (the caller inserts the job, then
    :func:`bind`); the earlier job's id when the same request came with this key before.
    Raises Conflict ``idempotency_key_reused`` for a different request under the key."""
    key, digest = request.idempotency_key, request_sha256(request)
    await conn.execute("DELETE FROM job_idempotency WHERE user_id = $1 AND created_at < "
                       "now() - $2::interval", user_id, KEEP)
    inserted = await conn.fetchval(
        "INSERT INTO job_idempotency (user_id, key, request_sha256) VALUES ($1, $2, $3) "
        "ON CONFLICT (user_id, key) DO NOTHING RETURNING true", user_id, key, digest)
    if inserted:
        return None
    row = await conn.fetchrow(
        "SELECT request_sha256, job_id FROM job_idempotency WHERE user_id = $1 AND key = $2",
        user_id, key)
    if row is None or row["job_id"] is None:  # its job was deleted since: nothing to return
        raise Conflict(f"Idempotency-Key {key!r} was used for a job that no longer exists; "
                       "use a new key", code="idempotency_key_reused")
    if row["request_sha256"] != digest:
        raise Conflict(f"Idempotency-Key {key!r} was already used with a different request "
                       f"(job {row['job_id']}); use a new key for a new job",
                       code="idempotency_key_reused")
    result: uuid.UUID = row["job_id"]
    return result


async def bind(conn: asyncpg.Connection, user_id: uuid.UUID, key: str, job_id: uuid.UUID
               ) -> None:
    """Link the claimed key to the job just inserted (same transaction)."""
    await conn.execute("UPDATE job_idempotency SET job_id = $3 WHERE user_id = $1 AND key = $2",
                       user_id, key, job_id)
