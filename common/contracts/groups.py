"""Contracts of the groups family: named sets of users that cases are shared with."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from common.amqp.topology import BACKEND_RPC
from common.contracts.base import Contract, Principal
from common.contracts.method import Method, declared_in

GROUP_PATTERN = r"^[a-z0-9][a-z0-9_.-]{1,62}$"


class GroupOut(Contract):
    id: str
    name: str
    members: list[str]  # usernames
    created_at: datetime


class CreateGroup(Contract):
    actor: Principal
    name: str = Field(pattern=GROUP_PATTERN)


class GroupMember(Contract):
    actor: Principal
    group: str = Field(max_length=100)
    username: str = Field(min_length=1, max_length=100)


class ListGroups(Contract):
    actor: Principal


class GroupList(Contract):
    groups: list[GroupOut]


class GroupMethods:
    """Served by backend_svc on ``topology.BACKEND_RPC``."""

    CREATE = Method("groups.create", CreateGroup, GroupOut, BACKEND_RPC, "group.create",
                    "Create a group (admins; 409 group_exists).")
    ADD_MEMBER = Method("groups.add_member", GroupMember, GroupOut, BACKEND_RPC,
                        "group.manage_members", "Add a user to a group (admins).")
    REMOVE_MEMBER = Method("groups.remove_member", GroupMember, GroupOut, BACKEND_RPC,
                           "group.manage_members", "Remove a user from a group (admins).")
    LIST = Method("groups.list", ListGroups, GroupList, BACKEND_RPC, "group.list",
                  "Groups: all for admins, one's own for users.")


METHODS = declared_in(GroupMethods)


class GroupEvent(Contract):
    """Data of ``modelport.group.created|member_added|member_removed``."""

    CREATED: ClassVar[str] = "modelport.group.created"
    MEMBER_ADDED: ClassVar[str] = "modelport.group.member_added"
    MEMBER_REMOVED: ClassVar[str] = "modelport.group.member_removed"
    group_id: str
    group: str
    username: str | None = None  # the member added or removed
