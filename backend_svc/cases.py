"""Case metadata: register, list, find, rename, share, delete. The bytes live in S3.

Each function runs on a connection the caller provides; those that change state expect the
caller's transaction. Who may see or change a case is decided by :mod:`backend_svc.policy`;
:func:`find_case` returns what the policy needs (owner, shared with the viewer) and
:func:`list_cases` lists what the ``CASE_READ`` rule lets a user see.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from backend_svc import app_rights, policy
from backend_svc.changes import LIVE_JOB_STATES, owner_id, parse_uuid, record_change
from backend_svc.policy import Action
from common.contracts.base import Principal
from common.contracts.cases import CaseEvent, CaseOut, RegisterCase
from common.errors import BadRequest, Conflict, NotFound

# A case is shared with its group only while its owner is a member of it.
_OWNER_IN_GROUP = ("EXISTS (SELECT 1 FROM memberships o WHERE o.group_id = c.shared_group_id "
                   "AND o.user_id = c.owner_id)")
# $1 is the viewer's user id (or NULL): ``shared`` says the case is shared with their group.
_CASE_SELECT = (
    "SELECT c.id, c.owner_id, u.username AS owner, a.name AS app, v.version AS app_version, "
    "c.name, c.sha256, c.size_bytes, g.name AS shared_group, c.created_at, c.s3_key, "
    "EXISTS (SELECT 1 FROM memberships m WHERE m.group_id = c.shared_group_id "
    f"AND m.user_id = $1) AND {_OWNER_IN_GROUP} AS shared "
    "FROM cases c JOIN users u ON u.id = c.owner_id JOIN apps a ON a.id = c.app_id "
    "LEFT JOIN app_versions v ON v.id = c.app_version_id "
    "LEFT JOIN groups g ON g.id = c.shared_group_id"
)
_VISIBLE = (
    "(c.owner_id = $1 OR (c.shared_group_id IN "
    f"(SELECT group_id FROM memberships WHERE user_id = $1) AND {_OWNER_IN_GROUP})) "
    "AND ($2::text IS NULL OR a.name = $2)"
)


@dataclass(frozen=True)
class FoundCase:
    """A case with what the policy and the portal need about it."""

    case: CaseOut
    owner_id: str
    shared: bool  # shared with a group the viewer belongs to
    s3_key: str


def _found(row: asyncpg.Record) -> FoundCase:
    case = CaseOut(
        id=str(row["id"]), owner=row["owner"], app=row["app"], app_version=row["app_version"],
        name=row["name"], sha256=row["sha256"], size_bytes=row["size_bytes"],
        shared_group=row["shared_group"], created_at=row["created_at"],
    )
    return FoundCase(case, str(row["owner_id"]), bool(row["shared"]), row["s3_key"])


def _event(case: CaseOut, *, was_shared: str | None = None, **extra: object) -> CaseEvent:
    """The event of a change to ``case`` (as it is now; ``was_shared``: its group before)."""
    groups = sorted({g for g in (case.shared_group, was_shared) if g is not None})
    return CaseEvent(case_id=case.id, app=case.app, owner=case.owner, extra=extra,
                     groups=groups)


async def register_case(
    conn: asyncpg.Connection, actor: Principal, request: RegisterCase
) -> CaseOut:
    """Record a case stored at ``request.s3_key``, owned by ``actor``; event case.created.

    Raises BadRequest ``invalid_case_id`` / ``no_owner`` (the actor is not a user) /
    ``unknown_app_version``, NotFound ``unknown_app`` (no such app, or one ``actor`` may not
    use), Conflict ``duplicate_case``.
    """
    case_id = parse_uuid(request.case_id)
    if case_id is None:
        raise BadRequest(f"case id {request.case_id!r} is not a UUID", code="invalid_case_id")
    owner = owner_id(actor, "a case is owned by a user")
    app_id, version_id = await _app_and_version(conn, actor, request.app, request.app_version)
    inserted = await conn.fetchval(
        "INSERT INTO cases (id, owner_id, app_id, app_version_id, name, s3_key, sha256, "
        "size_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING "
        "RETURNING id", case_id, owner, app_id, version_id, request.name, request.s3_key,
        request.sha256, request.size_bytes,
    )
    if inserted is None:
        raise Conflict(f"case {case_id} exists already", code="duplicate_case")
    found = await find_case(conn, str(case_id), viewer_id=actor.user_id)
    await record_change(conn, actor, "case.create", subject=found.case.id,
                        event_type=CaseEvent.CREATED, event=_event(found.case))
    return found.case


async def _app_and_version(
    conn: asyncpg.Connection, actor: Principal, app: str, version: str | None
) -> tuple[uuid.UUID, uuid.UUID | None]:
    app_id = await app_rights.require(conn, actor, Action.APP_READ, app)
    if version is None:
        return app_id, None
    version_id = await conn.fetchval(
        "SELECT id FROM app_versions WHERE app_id = $1 AND version = $2", app_id, version
    )
    if version_id is None:
        raise BadRequest(f"{app} has no version {version}", code="unknown_app_version")
    return app_id, version_id


async def list_cases(
    conn: asyncpg.Connection, viewer_id: str | None, *, app: str | None, limit: int, offset: int
) -> tuple[list[CaseOut], int]:
    """The viewer's own cases and those shared with their groups, newest first, and the total.

    Admins too see only these here; they reach any other case by its id.
    """
    viewer = parse_uuid(viewer_id)
    rows = await conn.fetch(
        f"{_CASE_SELECT} WHERE {_VISIBLE} ORDER BY c.created_at DESC, c.id LIMIT $3 OFFSET $4",
        viewer, app, limit, offset,
    )
    total = await conn.fetchval(
        f"SELECT count(*) FROM cases c JOIN apps a ON a.id = c.app_id WHERE {_VISIBLE}",
        viewer, app,
    )
    return [_found(r).case for r in rows], int(total)


async def find_case(
    conn: asyncpg.Connection, case_id: str, *, viewer_id: str | None, lock: bool = False
) -> FoundCase:
    """The case ``case_id`` seen by ``viewer_id`` (row-locked with ``lock``).

    Raises NotFound when there is none, the id included when it is not a UUID at all.
    """
    parsed = parse_uuid(case_id)
    row = None if parsed is None else await conn.fetchrow(
        f"{_CASE_SELECT} WHERE c.id = $2{' FOR UPDATE OF c' if lock else ''}",
        parse_uuid(viewer_id), parsed,
    )
    if row is None:
        raise NotFound("case not found")
    return _found(row)


async def case_for_app(
    conn: asyncpg.Connection, actor: Principal, case_id: str | None, app: str
) -> uuid.UUID | None:
    """The id of case ``case_id`` when ``actor`` may read it and it belongs to ``app`` (what a
    job or a session starts from); None when no case is named.

    Raises NotFound when the actor may not see it, BadRequest ``case_app_mismatch``.
    """
    if case_id is None:
        return None
    found = await find_case(conn, case_id, viewer_id=actor.user_id)
    if not policy.allowed(actor, Action.CASE_READ, owner_id=found.owner_id,
                          shared=found.shared):
        raise NotFound("case not found")
    if found.case.app != app:
        raise BadRequest(f"case {found.case.name!r} belongs to app {found.case.app!r}, "
                         f"not {app!r}", code="case_app_mismatch")
    return uuid.UUID(found.case.id)


async def rename_case(
    conn: asyncpg.Connection, actor: Principal, found: FoundCase, name: str
) -> CaseOut:
    """Rename a case found with ``lock``; event case.updated unless the name is unchanged."""
    if name == found.case.name:
        return found.case
    await conn.execute("UPDATE cases SET name = $2 WHERE id = $1", uuid.UUID(found.case.id),
                       name)
    case = found.case.model_copy(update={"name": name})
    await record_change(conn, actor, "case.rename", subject=case.id,
                        event_type=CaseEvent.UPDATED, event=_event(case, name=name))
    return case


async def share_case(
    conn: asyncpg.Connection, actor: Principal, found: FoundCase, group: str | None
) -> CaseOut:
    """Share a case read-only with ``group`` (None: stop sharing); event case.updated.

    The case's owner must be a member of ``group``. Raises NotFound ``unknown_group`` when
    there is no such group or, for anyone but an admin (who sees every group), when the owner
    is not in it; Conflict ``owner_not_member`` for an admin sharing a case with a group its
    owner is not in.
    """
    if group == found.case.shared_group:
        return found.case
    group_id = None
    if group is not None:
        group_id = await _owners_group(conn, actor, found, group)
    await conn.execute("UPDATE cases SET shared_group_id = $2 WHERE id = $1",
                       uuid.UUID(found.case.id), group_id)
    case = found.case.model_copy(update={"shared_group": group})
    await record_change(conn, actor, "case.share", subject=case.id,
                        event_type=CaseEvent.UPDATED,
                        event=_event(case, was_shared=found.case.shared_group,
                                     shared_group=group))
    return case


async def _owners_group(
    conn: asyncpg.Connection, actor: Principal, found: FoundCase, group: str
) -> uuid.UUID:
    row = await conn.fetchrow(
        "SELECT g.id, EXISTS (SELECT 1 FROM memberships m WHERE m.group_id = g.id "
        "AND m.user_id = $2) AS member FROM groups g WHERE g.name = $1",
        group, uuid.UUID(found.owner_id))
    sees_all = policy.allowed(actor, Action.GROUP_LIST_ALL)
    if row is None or not (row["member"] or sees_all):
        raise NotFound(f"group {group!r} not found", code="unknown_group")
    if not row["member"]:
        raise Conflict(f"{found.case.owner} is not a member of group {group!r}; a case is "
                       "shared only with its owner's groups", code="owner_not_member")
    return uuid.UUID(str(row["id"]))


async def delete_case(conn: asyncpg.Connection, actor: Principal, found: FoundCase) -> None:
    """Delete a case found with ``lock``; event case.deleted. The caller removes the blob.

    Raises Conflict ``in_use`` while an unfinished job reads or writes it.
    """
    case_id = uuid.UUID(found.case.id)
    jobs = await conn.fetchval(
        "SELECT count(*) FROM jobs WHERE $1 IN (input_case_id, output_case_id) "
        "AND state = ANY($2::text[])", case_id, list(LIVE_JOB_STATES),
    )
    if jobs:
        raise Conflict(f"case {found.case.name!r} is in use by {jobs} unfinished job(s)",
                       code="in_use")
    await conn.execute("DELETE FROM cases WHERE id = $1", case_id)
    await record_change(conn, actor, "case.delete", subject=found.case.id,
                        event_type=CaseEvent.DELETED, event=_event(found.case))
