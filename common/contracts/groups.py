"""Contracts of the groups family: named sets of users that cases are shared with."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from common.contracts.base import Contract, Principal

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


class GroupEvent(Contract):
    """Data of ``modelport.group.created|member_added|member_removed``."""

    CREATED: ClassVar[str] = "modelport.group.created"
    MEMBER_ADDED: ClassVar[str] = "modelport.group.member_added"
    MEMBER_REMOVED: ClassVar[str] = "modelport.group.member_removed"
    group_id: str
    group: str
    username: str | None = None  # the member added or removed
