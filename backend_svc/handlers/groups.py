"""RPC handlers for groups."""

from __future__ import annotations

import asyncpg

from backend_svc import groups, policy
from backend_svc.policy import Action
from common.contracts.groups import (
    CreateGroup,
    GroupList,
    GroupMember,
    GroupMethods,
    GroupOut,
    ListGroups,
)
from common.contracts.method import implements


class GroupHandlers:
    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool

    @implements(GroupMethods.CREATE)
    async def create_group(self, request: CreateGroup) -> GroupOut:
        async with self._pool.acquire() as conn, conn.transaction():
            return await groups.create_group(conn, request.actor, request.name)

    @implements(GroupMethods.ADD_MEMBER)
    async def add_member(self, request: GroupMember) -> GroupOut:
        async with self._pool.acquire() as conn, conn.transaction():
            return await groups.add_member(conn, request.actor, request.group, request.username)

    @implements(GroupMethods.REMOVE_MEMBER)
    async def remove_member(self, request: GroupMember) -> GroupOut:
        async with self._pool.acquire() as conn, conn.transaction():
            return await groups.remove_member(conn, request.actor, request.group,
                                              request.username)

    @implements(GroupMethods.LIST)
    async def list_groups(self, request: ListGroups) -> GroupList:
        every = policy.allowed(request.actor, Action.GROUP_LIST_ALL)
        async with self._pool.acquire() as conn:
            found = await groups.list_groups(conn, None if every else request.actor.user_id)
        return GroupList(groups=found)
