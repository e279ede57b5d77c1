"""Helpers the domain modules share: record a change, read ids that come from outside."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from backend_svc import audit
from backend_svc.outbox import record_event
from common.contracts.base import Contract, Principal

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


def parse_uuid(text: str | None) -> uuid.UUID | None:
    """``text`` as a UUID, or None when it is not one (so a bad id reads as "not found")."""
    if text is None:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
