"""Helpers the domain modules share: record a change, read ids that come from outside."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from backend_svc import audit
from backend_svc.outbox import record_event
from common.contracts.base import Contract, Principal
from common.errors import BadRequest, NotFound

LIVE_JOB_STATES = ("queued", "scheduled", "running", "lost")  # a lost job is queued again
LIVE_SESSION_STATES = ("requested", "starting", "ready", "stopping")


async def record_change(
    conn: asyncpg.Connection, actor: Principal, action: str, *, subject: str,
    event_type: str, event: Contract, detail: dict[str, Any] | None = None,
) -> None:
    """Write the audit row and the outbox event of one change, in the caller's transaction.

    The audit detail is the event's data unless ``detail`` is given.
    """
    data = event.model_dump(mode="json")
    await audit.record(conn, actor, action, subject, detail if detail is not None else data)
    await record_event(conn, event_type, data, subject=subject)


def text_or_none(value: Any) -> str | None:
    """A column's value as text (a UUID's canonical form), None kept."""
    return None if value is None else str(value)


def parse_uuid(text: str | None) -> uuid.UUID | None:
    """``text`` as a UUID, or None when it is not one (so a bad id reads as "not found")."""
    if text is None:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def owner_id(actor: Principal, owned: str) -> uuid.UUID:
    """The user id of ``actor``, who is to own a new job, session or case; BadRequest
    ``no_owner`` (``"<owned>; the caller is none"``) when the actor is not a user."""
    user_id = parse_uuid(actor.user_id)
    if user_id is None:
        raise BadRequest(f"{owned}; the caller is none", code="no_owner")
    return user_id


async def row_by_id(
    conn: asyncpg.Connection, select: str, alias: str, raw_id: str, *, lock: bool, what: str
) -> asyncpg.Record:
    """The row of ``select`` (whose table is aliased ``alias``) with id ``raw_id``, row-locked
    with ``lock``. Raises NotFound "``what`` not found", also when ``raw_id`` is no UUID."""
    parsed = parse_uuid(raw_id)
    row = None if parsed is None else await conn.fetchrow(
        f"{select} WHERE {alias}.id = $1{f' FOR UPDATE OF {alias}' if lock else ''}", parsed
    )
    if row is None:
        raise NotFound(f"{what} not found")
    return row


async def user_id_named(conn: asyncpg.Connection | asyncpg.Pool, username: str) -> str:
    """The id of user ``username``; a nil UUID (which owns nothing) when there is none."""
    user_id = await conn.fetchval("SELECT id FROM users WHERE username = $1", username)
    return str(user_id) if user_id else "00000000-0000-0000-0000-000000000000"
