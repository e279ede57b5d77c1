"""Queue positions kept between changes of the queue.

An exact position (:func:`backend_svc.queue.queue_positions`) costs counts and index ranges per
job and a loop over the users at its level: a page of 50 queued jobs of a 10,000-deep queue
took ~25 ms of backend and PostgreSQL time. Between two changes of the queue the answers stay
the same, so :class:`PositionCache` keeps each job's position until the first of:

- a ``modelport_jobs`` NOTIFY, which the jobs table's triggers send (from any replica) on every
  insert and every change of state, heard on this cache's own connection;
- the earliest ``not_before`` of a waiting job passes (it joins the due jobs; no NOTIFY);
- ``max_age_s`` (a bound should a NOTIFY ever go unheard).

A computation overtaken by a NOTIFY answers its caller but is not kept. While the listening
connection is down nothing is kept and every read computes afresh, so positions stay exact:
what a reader gets is what :func:`queue_positions` would answer at some moment during its call.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Sequence

import asyncpg
import structlog

from backend_svc import db
from backend_svc.dispatch import NOTIFY_CHANNEL
from backend_svc.queue import queue_positions
from common.backoff import delays

log = structlog.get_logger(__name__)
MAX_KEPT = 100_000
_NEXT_DUE = ("SELECT extract(epoch FROM min(not_before) - now()) FROM jobs "
             "WHERE state = 'queued' AND not_before > now()")


class PositionCache:
    """Positions of queued jobs, kept between changes of the queue (module docstring)."""

    def __init__(self, dsn: str, *, max_age_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self._dsn = dsn
        self._max_age_s = max_age_s
        self._clock = clock
        self._kept: dict[uuid.UUID, int | None] = {}
        self._until = 0.0
        self.generation = 0
        """Counts the changes heard (and losses of the listening connection)."""
        self.listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start listening (in the background; until it listens, nothing is kept)."""
        self._task = asyncio.create_task(self._listen(), name="position-cache")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def changed(self, *_: object) -> None:
        """The queue changed: forget every position (the NOTIFY's callback)."""
        self.generation += 1
        self._kept.clear()

    async def positions(
        self, conn: asyncpg.Connection, job_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, int]:
        """Position (1 = next) of each of ``job_ids`` that is queued, as
        :func:`queue_positions` answers; kept ones are not computed again."""
        if not self.listening.is_set():
            return await queue_positions(conn, job_ids)
        if self._clock() >= self._until:
            self.changed()
        known = {j: self._kept[j] for j in job_ids if j in self._kept}
        missing = [j for j in job_ids if j not in known]
        found = await self._compute(conn, missing) if missing else {}
        return {j: p for j in job_ids if (p := found.get(j, known.get(j))) is not None}

    async def _compute(
        self, conn: asyncpg.Connection, job_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, int]:
        """:func:`queue_positions` of ``job_ids``, kept unless a change overtook it."""
        generation, until = self.generation, self._until
        if not self._kept:  # a fresh start: valid until the next waiting job falls due
            next_due = await conn.fetchval(_NEXT_DUE)
            age = self._max_age_s if next_due is None else min(float(next_due), self._max_age_s)
            until = self._clock() + age
        found = await queue_positions(conn, job_ids)
        if generation == self.generation and self.listening.is_set():
            if len(self._kept) + len(job_ids) > MAX_KEPT:
                self._kept.clear()
            self._until = until
            self._kept.update({j: found.get(j) for j in job_ids})
        return found

    async def _listen(self) -> None:
        backoff = delays(base_s=0.2, cap_s=5.0)
        while True:
            try:
                await self._listen_once()
                backoff = delays(base_s=0.2, cap_s=5.0)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("position_cache_listen_failed", error=str(exc))
            await asyncio.sleep(next(backoff))

    async def _listen_once(self) -> None:
        """Listen on one connection until it ends; keep nothing while not listening."""
        conn = await db.connect(self._dsn)
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _: lost.set())
        try:
            await conn.add_listener(NOTIFY_CHANNEL, self.changed)
            self.changed()  # whatever happened before we listened
            self.listening.set()
            await lost.wait()
        finally:
            self.listening.clear()
            self.changed()
            with contextlib.suppress(Exception):
                await conn.close()
