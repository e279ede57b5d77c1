"""Paced restarts of sessions whose Docker host failed: no start storm on the survivors.

A restarted session (``session_workers.restart``) waits in ``requested`` for a restart slot
(``sessions.not_before``): now, or ``restart_spacing_s`` after the latest slot given to a
session within the last ``restart_spacing_s`` or still to come, so the sessions of a failed
host start one after another, as re-queued jobs do (``leases.restart_slot``). Its
StartSession is sent when the slot comes (``start_sent`` false until then), by the handler
that restarted it when the slot is now, else by the ``session-restarts`` duty; a worker
cannot claim it before the slot either.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import structlog

from common.amqp import topology
from common.amqp.publisher import Publisher
from common.contracts.sessions import StartSession

log = structlog.get_logger(__name__)
SLOT_LOCK = 0x6D6F64656C0E  # serialises the choice of session restart slots
RESTARTS_LOCK = 0x6D6F64656C0F  # the session-restarts duty (one replica sends due restarts)


async def restart_slot(conn: asyncpg.Connection, spacing_s: float) -> datetime:
    """When the next restarted session may start: now, or ``spacing_s`` after the latest
    slot given within ``spacing_s`` or still ahead. Holds a transaction lock so concurrent
    restarts get distinct slots."""
    if spacing_s <= 0:
        now: datetime = await conn.fetchval("SELECT now()")
        return now
    await conn.execute("SELECT pg_advisory_xact_lock($1)", SLOT_LOCK)
    slot: datetime = await conn.fetchval(
        "SELECT greatest(now(), (SELECT max(not_before) FROM sessions WHERE not_before > "
        "now() - make_interval(secs => $1)) + make_interval(secs => $1))", spacing_s)
    return slot


async def release_due(pool: asyncpg.Pool, commands: Publisher) -> int:
    """Send StartSession for every restarted session whose slot has come; return how many.
    One transaction: when a publish fails nothing is marked sent and the next call sends
    again (a second StartSession of one attempt is harmless: its claim answers not current).
    """
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "UPDATE sessions SET start_sent = true WHERE NOT start_sent AND state = "
            "'requested' AND not_before <= now() RETURNING id::text AS id, attempt")
        for row in rows:
            start = StartSession(session_id=row["id"])
            await commands.publish(
                start.model_dump_json().encode(), routing_key=topology.SESSION_COMMANDS,
                message_id=f"{StartSession.TYPE}:{row['id']}:{row['attempt']}",
                message_type=StartSession.TYPE)
    if rows:
        log.info("session_restarts_released", sessions=len(rows))
    return len(rows)
