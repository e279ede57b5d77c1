"""RPC handlers for case metadata. Reads of a case one may not see answer 404, never 403."""

from __future__ import annotations

import asyncpg

from backend_svc import cases, policy, quotas
from backend_svc.cases import FoundCase
from backend_svc.changes import parse_uuid
from backend_svc.handlers.base import QuotaRuleHandlers
from backend_svc.policy import Action
from common.contracts.base import Principal
from common.contracts.cases import (
    CaseList,
    CaseLocation,
    CaseOut,
    CaseRef,
    ListCases,
    RegisterCase,
    RenameCase,
    ShareCase,
)
from common.contracts.method import implements
from common.contracts.methods import CaseMethods


def _authorize(actor: Principal, action: Action, found: FoundCase) -> None:
    policy.authorize_private(actor, action, Action.CASE_READ, owner_id=found.owner_id,
                             shared=found.shared, what="case")


def _location(found: FoundCase) -> CaseLocation:
    return CaseLocation(case=found.case, s3_key=found.s3_key)


class CaseHandlers(QuotaRuleHandlers):

    @implements(CaseMethods.REGISTER)
    async def register_case(self, request: RegisterCase) -> CaseOut:
        """An upload's case: refused (429 quota_exceeded) past the owner's storage quota."""
        owner = parse_uuid(request.actor.user_id)
        async with self._pool.acquire() as conn, conn.transaction():
            if owner is not None:
                await quotas.lock_user(conn, owner)
                await quotas.check_storage(conn, owner, request.size_bytes, self._rules)
            return await cases.register_case(conn, request.actor, request)

    @implements(CaseMethods.LIST)
    async def list_cases(self, request: ListCases) -> CaseList:
        found, total = await self._read(
            cases.list_cases, request.actor.user_id, app=request.app, limit=request.limit,
            offset=request.offset)
        return CaseList(cases=found, total=total)

    @implements(CaseMethods.GET)
    async def get_case(self, request: CaseRef) -> CaseLocation:
        found = await self._read(cases.find_case, request.case_id, viewer_id=request.actor.user_id)
        _authorize(request.actor, Action.CASE_READ, found)
        return _location(found)

    @implements(CaseMethods.RENAME)
    async def rename_case(self, request: RenameCase) -> CaseOut:
        async with self._pool.acquire() as conn, conn.transaction():
            found = await self._find_for(conn, request.actor, Action.CASE_RENAME, request.case_id)
            return await cases.rename_case(conn, request.actor, found, request.name)

    @implements(CaseMethods.SHARE)
    async def share_case(self, request: ShareCase) -> CaseOut:
        async with self._pool.acquire() as conn, conn.transaction():
            found = await self._find_for(conn, request.actor, Action.CASE_SHARE, request.case_id)
            return await cases.share_case(conn, request.actor, found, request.group)

    @implements(CaseMethods.DELETE)
    async def delete_case(self, request: CaseRef) -> CaseLocation:
        async with self._pool.acquire() as conn, conn.transaction():
            found = await self._find_for(conn, request.actor, Action.CASE_DELETE, request.case_id)
            await cases.delete_case(conn, request.actor, found)
        return _location(found)

    @staticmethod
    async def _find_for(
        conn: asyncpg.Connection, actor: Principal, action: Action, case_id: str
    ) -> FoundCase:
        """The case, row-locked, once ``actor`` may perform ``action`` on it."""
        found = await cases.find_case(conn, case_id, viewer_id=actor.user_id, lock=True)
        _authorize(actor, action, found)
        return found
