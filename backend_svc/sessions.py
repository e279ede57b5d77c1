"""Data sessions as users see them: create, list, get, stop.

Each function runs on a connection the caller provides; those that change state expect the
caller's transaction, so the row, its audit entry and its outbox event commit together. What
a session worker reports is in :mod:`backend_svc.session_workers`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from backend_svc import audit, cases, idempotency, quotas
from backend_svc.changes import owner_id, parse_uuid, record_change, row_by_id, text_or_none
from backend_svc.jobs import _app_version
from backend_svc.quotas import QuotaRules
from common.contracts.base import Principal
from common.contracts.sessions import (
    LIVE_STATES,
    CreateSession,
    SessionEvent,
    SessionOut,
)

SESSION_SELECT = (
    "SELECT s.*, u.username, a.name AS app, a.id AS app_id, v.version AS app_version "
    "FROM sessions s JOIN users u ON u.id = s.user_id "
    "JOIN app_versions v ON v.id = s.app_version_id JOIN apps a ON a.id = v.app_id"
)
ACTIVE_STATES = ("starting", "ready", "stopping")  # held by a worker, under a lease
_EVENT_OF = {"ready": SessionEvent.READY, "stopped": SessionEvent.STOPPED,
             "failed": SessionEvent.FAILED, "lost": SessionEvent.LOST}


@dataclass(frozen=True)
class FoundSession:
    session: SessionOut
    user_id: str


def session_from_row(row: asyncpg.Record) -> SessionOut:
    return SessionOut(
        id=str(row["id"]), user=row["username"], app=row["app"],
        app_version=row["app_version"], state=row["state"], reason=row["reason"],
        message=row["message"], attempt=row["attempt"], worker=row["worker"],
        host=row["host"], endpoint=row["endpoint"], case_id=text_or_none(row["case_id"]),
        autosave_case_id=text_or_none(row["autosave_case_id"]), created_at=row["created_at"],
        started_at=row["started_at"], ended_at=row["ended_at"],
        last_activity_at=row["last_activity_at"],
    )


def session_event(session: SessionOut) -> SessionEvent:
    return SessionEvent(session_id=session.id, user=session.user, app=session.app,
                        attempt=session.attempt, state=session.state, reason=session.reason,
                        message=session.message)


async def record_state(conn: asyncpg.Connection, actor: Principal, session: SessionOut) -> None:
    """Audit and publish ``session``'s new state (its event, when the state has one)."""
    event_type = _EVENT_OF.get(session.state)
    if event_type is not None:
        await record_change(conn, actor, f"session.{session.state}", subject=session.id,
                            event_type=event_type, event=session_event(session))


async def find_session(
    conn: asyncpg.Connection, session_id: str, *, lock: bool = False
) -> FoundSession:
    """The session (row-locked with ``lock``) and its owner; NotFound when none."""
    row = await row_by_id(conn, SESSION_SELECT, "s", session_id, lock=lock, what="session")
    return FoundSession(session_from_row(row), str(row["user_id"]))


async def create(
    conn: asyncpg.Connection, actor: Principal, request: CreateSession, *,
    rules: QuotaRules, claim_timeout_s: float,
) -> tuple[SessionOut, bool]:
    """Request a session for ``actor``; event modelport.session.requested. Returns it and
    True, or, with an ``idempotency_key`` this user already sent with the same request, the
    session of that first request and False (nothing new).

    A worker must claim it within ``claim_timeout_s`` (else the reaper fails it).
    Raises NotFound ``unknown_app`` / ``unknown_version`` / ``not_found`` (a case the actor
    may not see), BadRequest ``no_owner`` / ``case_app_mismatch``, 429 ``quota_exceeded``
    when the actor already holds as many live sessions as their ``sessions`` quota, Conflict
    ``idempotency_key_reused`` when the key came with a different request.
    """
    user_id = owner_id(actor, "a session belongs to a user")
    earlier = await idempotency.claim(conn, idempotency.SESSIONS, user_id, request)
    if earlier is not None:
        return (await find_session(conn, str(earlier))).session, False
    version = await _app_version(conn, actor, request.app, request.version)
    case_id = await cases.case_for_app(conn, actor, request.case_id, request.app)
    await quotas.lock_user(conn, user_id)
    await quotas.check_session(conn, user_id, rules)
    session_id = await conn.fetchval(
        "INSERT INTO sessions (user_id, app_version_id, case_id, lease_expires_at) "
        "VALUES ($1, $2, $3, now() + make_interval(secs => $4)) RETURNING id",
        user_id, version["id"], case_id, claim_timeout_s,
    )
    await idempotency.bind(conn, idempotency.SESSIONS, user_id, request, session_id)
    session = (await find_session(conn, str(session_id))).session
    await record_change(conn, actor, "session.create", subject=session.id,
                        event_type=SessionEvent.REQUESTED, event=session_event(session))
    return session, True


async def list_sessions(
    conn: asyncpg.Connection, *, user_id: str | None, live: bool, limit: int, offset: int,
) -> tuple[list[SessionOut], int]:
    """Sessions (of ``user_id`` when given; only live ones with ``live``), newest first."""
    where = "($1::uuid IS NULL OR s.user_id = $1) AND (NOT $2 OR s.state = ANY($3::text[]))"
    args = (parse_uuid(user_id) if user_id else None, live, list(LIVE_STATES))
    rows = await conn.fetch(f"{SESSION_SELECT} WHERE {where} ORDER BY s.created_at DESC, s.id "
                            "LIMIT $4 OFFSET $5", *args, limit, offset)
    total = await conn.fetchval(f"SELECT count(*) FROM sessions s WHERE {where}", *args)
    return [session_from_row(r) for r in rows], int(total)


async def stop(
    conn: asyncpg.Connection, actor: Principal, found: FoundSession, reason: str
) -> SessionOut:
    """Stop a session found with ``lock``: a requested one ends ``stopped`` at once; one a
    worker holds becomes ``stopping`` (the caller sends StopSession). Stopping an ended
    session changes nothing and returns it as it is."""
    session = found.session
    if session.state == "requested":
        return await end(conn, actor, session, "stopped", reason)
    if session.state in ("starting", "ready"):
        await conn.execute(
            "UPDATE sessions SET state = 'stopping', stop_reason = $2, updated_at = now() "
            "WHERE id = $1", uuid.UUID(session.id), reason)
        await audit.record(conn, actor, "session.stop", session.id,
                           {"reason": reason, "worker": session.worker})
        return session.model_copy(update={"state": "stopping"})
    return session


async def end(
    conn: asyncpg.Connection, actor: Principal, session: SessionOut, state: str, reason: str,
    message: str | None = None,
) -> SessionOut:
    """Put ``session`` in the ended ``state`` with ``reason``; its event."""
    await conn.execute(
        "UPDATE sessions SET state = $2, reason = $3, message = $4, ended_at = now(), "
        "lease_expires_at = NULL, endpoint = NULL, updated_at = now() WHERE id = $1",
        uuid.UUID(session.id), state, reason, message)
    ended = session.model_copy(update={"state": state, "reason": reason, "message": message,
                                       "endpoint": None})
    await record_state(conn, actor, ended)
    return ended
