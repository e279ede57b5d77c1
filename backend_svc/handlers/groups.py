"""RPC handlers for groups."""

from __future__ import annotations

import asyncpg

from backend_svc import groups, policy
from backend_svc.policy import Action
from common.amqp.rpc import RpcServer
from common.contracts.groups import (
    CreateGroup,
    GroupList,
    GroupMember,
    GroupMethods,
    GroupOut,
    ListGroups,
)


class GroupHandlers:
    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool

    def register(self, server: RpcServer) -> None:
        server.register(GroupMethods.CREATE, CreateGroup, self.create_group)
        server.register(GroupMethods.ADD_MEMBER, GroupMember, self.add_member)
        server.register(GroupMethods.REMOVE_MEMBER, GroupMember, self.remove_member)
        server.register(GroupMethods.LIST, ListGroups, self.list_groups)

    async def create_group(self, request: CreateGroup) -> GroupOut:
        policy.authorize(request.actor, Action.GROUP_CREATE)
        async with self._pool.acquire() as conn, conn.transaction():
            return await groups.create_group(conn, request.actor, request.name)

    async def add_member(self, request: GroupMember) -> GroupOut:
        policy.authorize(request.actor, Action.GROUP_MANAGE)
        async with self._pool.acquire() as conn, conn.transaction():
            return await groups.add_member(conn, request.actor, request.group, request.username)

    async def remove_member(self, request: GroupMember) -> GroupOut:
        policy.authorize(request.actor, Action.GROUP_MANAGE)
        async with self._pool.acquire() as conn, conn.transaction():
            return await groups.remove_member(conn, request.actor, request.group,
                                              request.username)

    async def list_groups(self, request: ListGroups) -> GroupList:
        policy.authorize(request.actor, Action.GROUP_LIST)
        every = policy.allowed(request.actor, Action.GROUP_LIST_ALL)
        async with self._pool.acquire() as conn:
            found = await groups.list_groups(conn, None if every else request.actor.user_id)
        return GroupList(groups=found)
