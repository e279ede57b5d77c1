"""Per-app rights: which groups may use an app and which may publish it, and what they mean
for one actor. The rules themselves are in :mod:`backend_svc.policy`; this module reads the
facts they need (:class:`~backend_svc.policy.AppAccess`) and changes the rights.

Each function runs on a connection the caller provides; :func:`set_rights` expects the
caller's transaction, so the rows, the audit entry and the event commit together.
"""

from __future__ import annotations

import uuid

import asyncpg

from backend_svc.changes import parse_uuid, record_change
from backend_svc.policy import Action, AppAccess, allowed, authorize_app
from common.contracts.base import Principal
from common.contracts.registry import AppRights, AppRightsEvent
from common.errors import NotFound

# $1 is the actor's user id (or NULL). One row per app, with what the app rules need.
_ACCESS_SELECT = (
    "SELECT a.id, a.name, "
    "EXISTS (SELECT 1 FROM app_rights r WHERE r.app_id = a.id AND r.kind = 'use') AS restricted,"
    " EXISTS (SELECT 1 FROM app_rights r JOIN memberships m ON m.group_id = r.group_id "
    "WHERE r.app_id = a.id AND r.kind = 'use' AND m.user_id = $1) AS is_user, "
    "coalesce(a.owner_id = $1, false) OR EXISTS (SELECT 1 FROM app_rights r "
    "JOIN memberships m ON m.group_id = r.group_id WHERE r.app_id = a.id "
    "AND r.kind = 'publish' AND m.user_id = $1) AS is_publisher FROM apps a"
)


def _access(row: asyncpg.Record) -> AppAccess:
    return AppAccess(restricted=row["restricted"], user=row["is_user"],
                     publisher=row["is_publisher"])


async def access(
    conn: asyncpg.Connection, actor: Principal, name: str
) -> tuple[uuid.UUID | None, AppAccess | None]:
    """The id of app ``name`` and what the app rules need to know of it for ``actor``;
    ``(None, None)`` when there is no such app."""
    row = await conn.fetchrow(f"{_ACCESS_SELECT} WHERE a.name = $2",
                              parse_uuid(actor.user_id), name)
    if row is None:
        return None, None
    return row["id"], _access(row)


async def usable(conn: asyncpg.Connection, actor: Principal) -> set[uuid.UUID]:
    """The ids of every app ``actor`` may use (``Action.APP_READ``)."""
    rows = await conn.fetch(_ACCESS_SELECT, parse_uuid(actor.user_id))
    return {r["id"] for r in rows if allowed(actor, Action.APP_READ, app=_access(r))}


async def require(
    conn: asyncpg.Connection, actor: Principal, action: Action, name: str, *,
    code: str = "unknown_app",
) -> uuid.UUID:
    """The id of app ``name`` once ``actor`` may perform ``action`` on it.

    Raises NotFound (``code``) for an app that does not exist or that ``actor`` may not use;
    Forbidden when they may use it but not perform ``action``.
    """
    app_id, app = await access(conn, actor, name)
    authorize_app(actor, action, app, name, code=code)
    assert app_id is not None
    return app_id


async def get_rights(conn: asyncpg.Connection, app_id: uuid.UUID, name: str) -> AppRights:
    """The groups that may use and publish the app, and who created it."""
    rows = await conn.fetch(
        "SELECT r.kind, g.name FROM app_rights r JOIN groups g ON g.id = r.group_id "
        "WHERE r.app_id = $1 ORDER BY g.name", app_id)
    owner = await conn.fetchval(
        "SELECT u.username FROM apps a JOIN users u ON u.id = a.owner_id WHERE a.id = $1",
        app_id)
    return AppRights(app=name, owner=owner,
                     use=[r["name"] for r in rows if r["kind"] == "use"],
                     publish=[r["name"] for r in rows if r["kind"] == "publish"])


async def set_rights(
    conn: asyncpg.Connection, actor: Principal, app_id: uuid.UUID, name: str, *,
    use: list[str], publish: list[str],
) -> AppRights:
    """Replace the app's use- and publish-groups; event ``modelport.app.rights_changed``
    unless nothing changes. Raises NotFound ``unknown_group`` naming the groups that do not
    exist (nothing is changed then)."""
    await conn.execute("SELECT id FROM apps WHERE id = $1 FOR UPDATE", app_id)
    before = await get_rights(conn, app_id, name)
    wanted = sorted(set(use)), sorted(set(publish))
    if (before.use, before.publish) == wanted:
        return before
    ids = await _group_ids(conn, {*use, *publish})
    await conn.execute("DELETE FROM app_rights WHERE app_id = $1", app_id)
    await conn.executemany(
        "INSERT INTO app_rights (app_id, group_id, kind) VALUES ($1, $2, $3)",
        [(app_id, ids[g], kind) for kind, groups in zip(("use", "publish"), wanted, strict=True)
         for g in groups])
    after = await get_rights(conn, app_id, name)
    event = AppRightsEvent(app_id=str(app_id), app=name, use=after.use, publish=after.publish)
    await record_change(conn, actor, "app.rights", subject=str(app_id),
                        event_type=AppRightsEvent.TYPE, event=event)
    return after


async def _group_ids(conn: asyncpg.Connection, names: set[str]) -> dict[str, uuid.UUID]:
    rows = await conn.fetch("SELECT name, id FROM groups WHERE name = ANY($1::text[])",
                            list(names))
    found = {r["name"]: r["id"] for r in rows}
    missing = sorted(names - set(found))
    if missing:
        raise NotFound(f"no group named {', '.join(missing)}", code="unknown_group")
    return found
