"""RPC handlers of the admin family: the audit log and the Docker hosts."""

from __future__ import annotations

import asyncpg

from backend_svc import audit, hosts
from backend_svc.handlers.base import PoolHandlers
from backend_svc.settings import BackendSettings
from common.contracts.admin import AuditPage, HostList, HostOut, HostRef, ListAudit, ListHosts
from common.contracts.method import implements
from common.contracts.methods import AdminMethods


class AdminHandlers(PoolHandlers):
    def __init__(self, pool: asyncpg.Pool, settings: BackendSettings):
        super().__init__(pool)
        self._live_s = max(settings.lease_ttl_s, settings.session_lease_ttl_s)

    @implements(AdminMethods.AUDIT)
    async def audit(self, request: ListAudit) -> AuditPage:
        return await self._read(audit.page, request)

    @implements(AdminMethods.HOSTS)
    async def list_hosts(self, request: ListHosts) -> HostList:
        return HostList(hosts=await self._read(hosts.list_hosts, live_s=self._live_s))

    @implements(AdminMethods.DRAIN_HOST)
    async def drain(self, request: HostRef) -> HostOut:
        return await self._set(request, drained=True)

    @implements(AdminMethods.RETURN_HOST)
    async def return_(self, request: HostRef) -> HostOut:
        return await self._set(request, drained=False)

    async def _set(self, request: HostRef, *, drained: bool) -> HostOut:
        return await self._write(hosts.set_drained, request.actor, request.name, drained,
                                 live_s=self._live_s)
