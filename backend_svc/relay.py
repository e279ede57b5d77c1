"""The outbox relay: publishes committed events to ``modelport.events`` in order.

One replica relays at a time (advisory lock). Each event is published with a broker confirm
before its row is stamped, so a crash between the two re-sends it (at-least-once; consumers
deduplicate by event id) and never loses it. While the broker is unreachable the relay backs
off and the events wait in the table.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

from backend_svc import db
from backend_svc.leadership import AdvisoryLease
from backend_svc.outbox import event_from_row
from common.amqp.publisher import Publisher
from common.backoff import delays

log = structlog.get_logger(__name__)
RELAY_LOCK = 0x6D6F64656C02
NOTIFY_CHANNEL = "modelport_outbox"


class OutboxRelay:
    """Runs in the background from :meth:`start` until :meth:`stop`."""

    def __init__(self, dsn: str, publisher: Publisher, *, batch: int, poll_s: float):
        self._dsn = dsn
        self._publisher = publisher
        self._batch = batch
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.leading = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Finish the event being published, then stop."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _run(self) -> None:
        backoff = delays(base_s=0.2, cap_s=5.0)
        while not self._stopping.is_set():
            try:
                await self._lead()
                backoff = delays(base_s=0.2, cap_s=5.0)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("relay_db_error", error=str(exc))
                await self._sleep(next(backoff))

    async def _lead(self) -> None:
        """Hold a database connection; relay whenever this replica holds the lock."""
        conn = await db.connect(self._dsn)
        lease = AdvisoryLease(conn, RELAY_LOCK)
        try:
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
            while not self._stopping.is_set():
                self.leading = await lease.try_acquire()
                if self.leading:
                    await self._drain(conn)
                await self._sleep(self._poll_s)
        finally:
            self.leading = False
            with contextlib.suppress(Exception):
                await lease.release()
            await conn.close()

    async def _drain(self, conn: asyncpg.Connection) -> None:
        """Publish pending events until none are left or the broker fails."""
        backoff = delays(base_s=0.2, cap_s=5.0)
        while not self._stopping.is_set():
            try:
                if not await self._publish_batch(conn):
                    return
                backoff = delays(base_s=0.2, cap_s=5.0)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                raise
            except Exception as exc:  # broker down, channel closed, confirm timed out or nacked
                log.warning("relay_publish_failed", error=repr(exc))
                await self._sleep(next(backoff))

    async def _publish_batch(self, conn: asyncpg.Connection) -> bool:
        """Publish one batch in order; return True when more may be waiting."""
        self._wake.clear()
        rows = await conn.fetch(
            "SELECT seq, id, type, source, subject, time, data FROM outbox "
            "WHERE published_at IS NULL ORDER BY seq LIMIT $1",
            self._batch,
        )
        done: list[int] = []
        try:
            for row in rows:
                await self._publisher.publish_event(event_from_row(row))
                done.append(row["seq"])
        finally:
            if done:
                await conn.execute(
                    "UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])", done
                )
                self.published += len(done)
                log.debug("relay_published", count=len(done))
        return len(rows) == self._batch

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()
