"""The outbox relay: publishes committed events to ``modelport.events`` in order.

An exclusive duty (:class:`backend_svc.duty.ExclusiveDuty`): one replica relays at a time,
woken by the outbox's NOTIFY and at least every ``poll_s``. Each event is published with a
broker confirm before its row is stamped, so a crash between the two re-sends it
(at-least-once; consumers deduplicate by event id) and never loses it. When only the database
went away between the two (an outage or restart), the relay remembers what the broker
confirmed and stamps it first when the database is back, so that case sends nothing twice.
While the broker is unreachable a pass stops at the first failed publish and the events wait
in the table for the next pass.
"""

from __future__ import annotations

import itertools

import asyncpg
import structlog

from backend_svc.duty import ExclusiveDuty
from backend_svc.outbox import event_from_row
from common.amqp.publisher import Publisher

log = structlog.get_logger(__name__)
RELAY_LOCK = 0x6D6F64656C02
NOTIFY_CHANNEL = "modelport_outbox"
MAX_BATCHES_PER_PASS = 1000  # bounded; the next wake-up goes on


class OutboxRelay:
    """Runs in the background from :meth:`start` until :meth:`stop`."""

    def __init__(self, dsn: str, pool: asyncpg.Pool, publisher: Publisher, *, batch: int,
                 poll_s: float):
        self._pool = pool
        self._publisher = publisher
        self._batch = batch
        self._duty = ExclusiveDuty("outbox-relay", dsn, RELAY_LOCK, self._pass,
                                   interval_s=poll_s, channel=NOTIFY_CHANNEL)
        self.published = 0
        # Confirmed by the broker but not stamped (the database went away in between): stamped
        # first on the next pass instead of being sent again.
        self._confirmed: set[int] = set()

    @property
    def leading(self) -> bool:
        return self._duty.leading

    async def start(self) -> None:
        await self._duty.start()

    async def stop(self) -> None:
        """Finish the pass in progress, then stop."""
        await self._duty.stop()

    async def _pass(self) -> None:
        """Publish pending events in order until none are left or the broker fails."""
        for _ in range(MAX_BATCHES_PER_PASS):
            try:
                if not await self._publish_batch():
                    return
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                raise
            except Exception as exc:  # broker down, channel closed, confirm timed out or nacked
                log.warning("relay_publish_failed", error=repr(exc))
                return

    async def _publish_batch(self) -> bool:
        """Publish one batch in order; return True when more may be waiting.

        The batch's publishes are sent back to back and their confirms awaited together
        (one round trip per batch, not per event; :meth:`Publisher.publish_events`). They
        still reach the broker in order: a channel sends its publishes under a FIFO lock that
        each one takes before it first waits, and the tasks start in order. Only the
        confirmed run from the batch's start is stamped; after a failure the rest are sent
        again (consumers deduplicate by id).
        """
        async with self._pool.acquire() as conn:
            if self._confirmed:
                await self._stamp(conn, sorted(self._confirmed))
            rows = await conn.fetch(
                "SELECT seq, id, type, source, subject, time, data FROM outbox "
                "WHERE published_at IS NULL ORDER BY seq LIMIT $1",
                self._batch,
            )
            results = await self._publisher.publish_events([event_from_row(r) for r in rows])
            failed = next((r for r in results if r is not None), None)
            done = [row["seq"] for row, _ in zip(rows, itertools.takewhile(
                lambda r: r is None, results), strict=False)]
            self._confirmed.update(done)
            if done:
                await self._stamp(conn, done)
                self.published += len(done)
        if failed is not None:
            raise failed
        return len(rows) == self._batch

    async def _stamp(self, conn: asyncpg.Connection, seqs: list[int]) -> None:
        await conn.execute(
            "UPDATE outbox SET published_at = now() "
            "WHERE seq = ANY($1::bigint[]) AND published_at IS NULL", seqs)
        self._confirmed.difference_update(seqs)
