"""The transactional outbox: events are rows written with the change they describe.

:func:`record_event` is called inside the caller's transaction, so a committed change always
has its event and a rolled-back one never does. :class:`OutboxRelay` publishes the rows.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from common.contracts.events import SOURCE, CloudEvent


async def record_event(
    conn: asyncpg.Connection, event_type: str, data: dict[str, Any], *, subject: str | None = None
) -> CloudEvent:
    """Write ``event_type`` with ``data`` to the outbox in the current transaction."""
    event = CloudEvent(type=event_type, subject=subject, data=data)
    await conn.execute(_INSERT, *_row(event))
    return event


async def record_events(conn: asyncpg.Connection, events: list[CloudEvent]) -> None:
    """Write the events of a bulk change, in order, in one round trip (same transaction rule
    as :func:`record_event`)."""
    await conn.executemany(_INSERT, [_row(event) for event in events])


_INSERT = "INSERT INTO outbox (id, type, source, subject, time, data) VALUES ($1,$2,$3,$4,$5,$6)"


def _row(event: CloudEvent) -> tuple[Any, ...]:
    return event.id, event.type, SOURCE, event.subject, event.time, event.data


def event_from_row(row: asyncpg.Record) -> CloudEvent:
    return CloudEvent(
        id=str(row["id"]), type=row["type"], source=row["source"], subject=row["subject"],
        time=row["time"], data=row["data"],
    )
