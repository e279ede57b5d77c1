"""RPC handlers for groups."""

from __future__ import annotations

from backend_svc import groups, policy
from backend_svc.handlers.base import PoolHandlers
from backend_svc.policy import Action
from common.contracts.groups import CreateGroup, GroupList, GroupMember, GroupOut, ListGroups
from common.contracts.method import implements
from common.contracts.methods import GroupMethods


class GroupHandlers(PoolHandlers):

    @implements(GroupMethods.CREATE)
    async def create_group(self, request: CreateGroup) -> GroupOut:
        return await self._write(groups.create_group, request.actor, request.name)

    @implements(GroupMethods.ADD_MEMBER)
    async def add_member(self, request: GroupMember) -> GroupOut:
        return await self._write(groups.add_member, request.actor, request.group, request.username)

    @implements(GroupMethods.REMOVE_MEMBER)
    async def remove_member(self, request: GroupMember) -> GroupOut:
        return await self._write(
            groups.remove_member, request.actor, request.group, request.username)

    @implements(GroupMethods.LIST)
    async def list_groups(self, request: ListGroups) -> GroupList:
        every = policy.allowed(request.actor, Action.GROUP_LIST_ALL)
        found = await self._read(groups.list_groups, None if every else request.actor.user_id)
        return GroupList(groups=found)
