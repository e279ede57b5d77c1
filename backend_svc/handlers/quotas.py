"""RPC handlers for quotas and usage (admins; the guard applies the declared rules)."""

from __future__ import annotations

from backend_svc import quota_admin
from backend_svc.handlers.base import QuotaRuleHandlers
from common.contracts.method import implements
from common.contracts.methods import QuotaMethods
from common.contracts.quotas import (
    ListQuotas,
    QuotaOverview,
    QuotasOut,
    QuotaTarget,
    SetQuotas,
    UsageQuery,
    UsageReport,
)


class QuotaHandlers(QuotaRuleHandlers):

    @implements(QuotaMethods.GET)
    async def get(self, request: QuotaTarget) -> QuotasOut:
        return await self._read(quota_admin.get, request.kind, request.name, self._rules)

    @implements(QuotaMethods.SET)
    async def set(self, request: SetQuotas) -> QuotasOut:
        return await self._write(quota_admin.set_overrides, request.actor, request.kind,
                                 request.name, request.values, self._rules)

    @implements(QuotaMethods.LIST)
    async def list(self, request: ListQuotas) -> QuotaOverview:
        return await self._read(quota_admin.overview, self._rules)

    @implements(QuotaMethods.USAGE)
    async def usage(self, request: UsageQuery) -> UsageReport:
        return await self._read(quota_admin.usage, request.start, request.end)
