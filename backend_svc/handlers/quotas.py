"""RPC handlers for quotas and usage (admins; the guard applies the declared rules)."""

from __future__ import annotations

import asyncpg

from backend_svc import quota_admin
from backend_svc.quotas import QuotaRules
from common.contracts.method import implements
from common.contracts.quotas import (
    ListQuotas,
    QuotaMethods,
    QuotaOverview,
    QuotasOut,
    QuotaTarget,
    SetQuotas,
    UsageQuery,
    UsageReport,
)


class QuotaHandlers:
    def __init__(self, pool: asyncpg.Pool, rules: QuotaRules):
        self._pool = pool
        self._rules = rules

    @implements(QuotaMethods.GET)
    async def get(self, request: QuotaTarget) -> QuotasOut:
        async with self._pool.acquire() as conn:
            return await quota_admin.get(conn, request.kind, request.name, self._rules)

    @implements(QuotaMethods.SET)
    async def set(self, request: SetQuotas) -> QuotasOut:
        async with self._pool.acquire() as conn, conn.transaction():
            return await quota_admin.set_overrides(conn, request.actor, request.kind,
                                                   request.name, request.values, self._rules)

    @implements(QuotaMethods.LIST)
    async def list(self, request: ListQuotas) -> QuotaOverview:
        async with self._pool.acquire() as conn:
            return await quota_admin.overview(conn, self._rules)

    @implements(QuotaMethods.USAGE)
    async def usage(self, request: UsageQuery) -> UsageReport:
        async with self._pool.acquire() as conn:
            return await quota_admin.usage(conn, request.start, request.end)
