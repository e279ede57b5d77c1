"""Backend's own series, read from PostgreSQL right before a scrape (cached briefly by
:class:`~common.metrics.ServiceMetrics`): jobs and sessions by state, and how far the outbox
relay is behind. Every backend replica reports the same numbers (use ``max`` across them).

Finished jobs pile up for ever, so counting every state is a scan of the whole table: that
full count runs at most every ``full_every_s``; the states the jobs table's partial indexes
cover (queued, scheduled, running) are recounted at every refresh.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import get_args

import asyncpg
from prometheus_client import Gauge

from common.contracts.jobs import JobState
from common.metrics import ServiceMetrics

JOB_STATES = get_args(JobState)
# covered by the partial indexes jobs_queue (0001) and jobs_leased (0003); ``lost`` is not
# indexed and lasts only until the reaper re-queues the job, so the full count covers it
INDEXED_JOB_STATES = ("queued", "scheduled", "running")
COUNT_BY_STATE = "SELECT state, count(*) AS n FROM {table} GROUP BY state"
# one indexed count per state (a single IN list plans as a scan of the table)
COUNT_INDEXED_JOBS = " UNION ALL ".join(
    f"SELECT '{state}' AS state, count(*) AS n FROM jobs WHERE state = '{state}'"
    for state in INDEXED_JOB_STATES)
OUTBOX_LAG = (
    "SELECT count(*) AS pending, "
    "COALESCE(EXTRACT(EPOCH FROM now() - min(time)), 0)::float8 AS oldest_s "
    "FROM outbox WHERE published_at IS NULL"
)
FULL_COUNT_EVERY_S = 60.0


class StateGauge:
    """A gauge of rows per state that shows 0 for a state once seen (or known) and gone."""

    def __init__(self, gauge: Gauge, known: Iterable[str] = ()) -> None:
        self.gauge = gauge
        self._seen = set(known)
        for state in self._seen:
            gauge.labels(state).set(0)

    def update(self, counts: dict[str, int], states: Iterable[str] | None = None) -> None:
        """Set ``states`` (default: every state seen so far) from ``counts``; a state
        missing from ``counts`` has no rows."""
        self._seen |= counts.keys()
        for state in self._seen if states is None else states:
            self.gauge.labels(state).set(counts.get(state, 0))


class BackendGauges:
    """Registers backend's gauges on ``metrics`` and refreshes them from ``pool``."""

    def __init__(self, metrics: ServiceMetrics, pool: asyncpg.Pool, *,
                 full_every_s: float = FULL_COUNT_EVERY_S) -> None:
        registry = metrics.registry
        self._pool = pool
        self._full_every_s = full_every_s
        self._full_at = -float("inf")
        self.jobs = StateGauge(Gauge("modelport_jobs", "Jobs by state.", ["state"],
                                     registry=registry), JOB_STATES)
        self.sessions = StateGauge(Gauge("modelport_sessions", "Data sessions by state.",
                                         ["state"], registry=registry))
        self.outbox_pending = Gauge("modelport_outbox_pending_events",
                                    "Outbox rows not yet published to the broker.",
                                    registry=registry)
        self.outbox_age = Gauge("modelport_outbox_oldest_pending_age_seconds",
                                "Age of the oldest unpublished outbox row; 0 when none waits.",
                                registry=registry)
        metrics.add_refresher(self.refresh)

    async def refresh(self) -> None:
        async with self._pool.acquire() as conn:
            await self._refresh_jobs(conn)
            self.sessions.update(await _counts(conn, COUNT_BY_STATE.format(table="sessions")))
            lag = await conn.fetchrow(OUTBOX_LAG)
        self.outbox_pending.set(lag["pending"])
        self.outbox_age.set(lag["oldest_s"])

    async def _refresh_jobs(self, conn: asyncpg.Connection) -> None:
        if time.monotonic() - self._full_at >= self._full_every_s:
            self.jobs.update(await _counts(conn, COUNT_BY_STATE.format(table="jobs")))
            self._full_at = time.monotonic()
        else:
            self.jobs.update(await _counts(conn, COUNT_INDEXED_JOBS), INDEXED_JOB_STATES)


async def _counts(conn: asyncpg.Connection, query: str) -> dict[str, int]:
    return {row["state"]: row["n"] for row in await conn.fetch(query)}
