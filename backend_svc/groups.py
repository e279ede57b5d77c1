"""Groups of users (cases are shared with a group): create, add and remove members, list.

Each function runs on a connection the caller provides; those that change state expect the
caller's transaction, so the change, its audit entry and its outbox event commit together.
"""

from __future__ import annotations

import uuid

import asyncpg

from backend_svc.changes import parse_uuid, record_change
from common.contracts.base import Principal
from common.contracts.groups import GroupEvent, GroupOut
from common.errors import Conflict, NotFound

_GROUP_SELECT = (
    "SELECT g.id, g.name, g.created_at, coalesce(array_agg(u.username ORDER BY u.username) "
    "FILTER (WHERE u.username IS NOT NULL), '{}') AS members "
    "FROM groups g LEFT JOIN memberships m ON m.group_id = g.id "
    "LEFT JOIN users u ON u.id = m.user_id"
)


def _group_from_row(row: asyncpg.Record) -> GroupOut:
    return GroupOut(id=str(row["id"]), name=row["name"], members=list(row["members"]),
                    created_at=row["created_at"])


async def create_group(conn: asyncpg.Connection, actor: Principal, name: str) -> GroupOut:
    """Create an empty group; event ``modelport.group.created``.

    Raises Conflict ``group_exists`` when the name is taken.
    """
    group_id = await conn.fetchval(
        "INSERT INTO groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id", name
    )
    if group_id is None:
        raise Conflict(f"a group named {name!r} exists already", code="group_exists")
    await record_change(conn, actor, "group.create", subject=str(group_id),
                        event_type=GroupEvent.CREATED,
                        event=GroupEvent(group_id=str(group_id), group=name))
    return await get_group(conn, name)


async def get_group(conn: asyncpg.Connection, name: str) -> GroupOut:
    """The group ``name`` with its members; NotFound ``unknown_group`` when there is none."""
    row = await conn.fetchrow(f"{_GROUP_SELECT} WHERE g.name = $1 GROUP BY g.id", name)
    if row is None:
        raise NotFound(f"group {name!r} not found", code="unknown_group")
    return _group_from_row(row)


async def list_groups(conn: asyncpg.Connection, member_id: str | None = None) -> list[GroupOut]:
    """Every group by name, or with ``member_id`` only the groups that user belongs to."""
    if member_id is None:
        rows = await conn.fetch(f"{_GROUP_SELECT} GROUP BY g.id ORDER BY g.name")
    else:
        rows = await conn.fetch(
            f"{_GROUP_SELECT} WHERE g.id IN (SELECT group_id FROM memberships WHERE user_id = $1)"
            " GROUP BY g.id ORDER BY g.name", parse_uuid(member_id),
        )
    return [_group_from_row(r) for r in rows]


async def add_member(
    conn: asyncpg.Connection, actor: Principal, group: str, username: str
) -> GroupOut:
    """Add ``username`` to ``group``; event ``modelport.group.member_added``.

    Adding a member again changes nothing. Raises NotFound ``unknown_group`` /
    ``unknown_user``.
    """
    return await _change_membership(
        conn, actor, group, username, "INSERT INTO memberships (group_id, user_id) "
        "VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING user_id",
        "group.add_member", GroupEvent.MEMBER_ADDED)


async def remove_member(
    conn: asyncpg.Connection, actor: Principal, group: str, username: str
) -> GroupOut:
    """Remove ``username`` from ``group``; event ``modelport.group.member_removed``.

    Removing a non-member changes nothing. Raises NotFound ``unknown_group`` /
    ``unknown_user``.
    """
    return await _change_membership(
        conn, actor, group, username, "DELETE FROM memberships WHERE group_id = $1 AND "
        "user_id = $2 RETURNING user_id", "group.remove_member", GroupEvent.MEMBER_REMOVED)


async def _change_membership(
    conn: asyncpg.Connection, actor: Principal, group: str, username: str, sql: str,
    action: str, event_type: str,
) -> GroupOut:
    """Run ``sql`` (on group id, user id; it returns a row when it changed something) and,
    when it did, record the change (``action``, ``event_type``); return the group now."""
    group_id, user_id = await _ids(conn, group, username)
    if await conn.fetchval(sql, group_id, user_id) is not None:
        event = GroupEvent(group_id=str(group_id), group=group, username=username)
        await record_change(conn, actor, action, subject=str(group_id),
                            event_type=event_type, event=event)
    return await get_group(conn, group)


async def _ids(
    conn: asyncpg.Connection, group: str, username: str
) -> tuple[uuid.UUID, uuid.UUID]:
    """Ids of the group (row-locked) and the user; NotFound naming which one is missing."""
    group_id = await conn.fetchval("SELECT id FROM groups WHERE name = $1 FOR UPDATE", group)
    if group_id is None:
        raise NotFound(f"group {group!r} not found", code="unknown_group")
    user_id = await conn.fetchval("SELECT id FROM users WHERE username = $1", username)
    if user_id is None:
        raise NotFound(f"user {username!r} not found", code="unknown_user")
    return group_id, user_id
