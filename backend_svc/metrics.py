"""Backend's own series, read from PostgreSQL right before a scrape (cached briefly by
:class:`~common.metrics.ServiceMetrics`): jobs and sessions by state, and how far the outbox
relay is behind. Every backend replica reports the same numbers (use ``max`` across them)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import get_args

import asyncpg
from prometheus_client import Gauge

from common.contracts.jobs import JobState
from common.metrics import ServiceMetrics

COUNT_BY_STATE = "SELECT state, count(*) AS n FROM {table} GROUP BY state"
OUTBOX_LAG = (
    "SELECT count(*) AS pending, "
    "COALESCE(EXTRACT(EPOCH FROM now() - min(time)), 0)::float8 AS oldest_s "
    "FROM outbox WHERE published_at IS NULL"
)


class StateGauge:
    """A gauge of rows per state that shows 0 for a state once seen (or known) and gone."""

    def __init__(self, gauge: Gauge, known: Iterable[str] = ()) -> None:
        self.gauge = gauge
        self._seen = set(known)
        for state in self._seen:
            gauge.labels(state).set(0)

    def update(self, counts: dict[str, int]) -> None:
        self._seen |= counts.keys()
        for state in self._seen:
            self.gauge.labels(state).set(counts.get(state, 0))


class BackendGauges:
    """Registers backend's gauges on ``metrics`` and refreshes them from ``pool``."""

    def __init__(self, metrics: ServiceMetrics, pool: asyncpg.Pool) -> None:
        registry = metrics.registry
        self._pool = pool
        self.jobs = StateGauge(Gauge("modelport_jobs", "Jobs by state.", ["state"],
                                     registry=registry), get_args(JobState))
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
            self.jobs.update(await _counts(conn, "jobs"))
            self.sessions.update(await _counts(conn, "sessions"))
            lag = await conn.fetchrow(OUTBOX_LAG)
        self.outbox_pending.set(lag["pending"])
        self.outbox_age.set(lag["oldest_s"])


async def _counts(conn: asyncpg.Connection, table: str) -> dict[str, int]:
    rows = await conn.fetch(COUNT_BY_STATE.format(table=table))
    return {row["state"]: row["n"] for row in rows}
