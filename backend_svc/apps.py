"""Apps and their versions: publish, list, activate (and roll back), delete.

Each function runs on a connection the caller provides; those that change state expect the
caller's transaction. Changes to one app are serialised by a lock on its ``apps`` row.
"""

from __future__ import annotations

import asyncpg

from backend_svc import app_rights
from backend_svc.changes import LIVE_JOB_STATES, LIVE_SESSION_STATES, record_change
from backend_svc.policy import Action
from backend_svc.registry import check_runtime_requirement, require_runtime, version_key
from common.contracts.base import Principal
from common.contracts.registry import AppOut, AppVersionEvent, AppVersionOut, PublishAppVersion
from common.errors import Conflict, NotFound

_VERSION_SELECT = (
    "SELECT v.id, v.app_id, a.name AS app, v.version, v.title, v.runtime_requirement, "
    "v.manifest, v.sha256, v.size_bytes, v.created_at, v.s3_key, "
    "coalesce(a.active_version_id = v.id, false) AS active "
    "FROM app_versions v JOIN apps a ON a.id = v.app_id"
)


def version_from_row(row: asyncpg.Record) -> AppVersionOut:
    return AppVersionOut(
        id=str(row["id"]), app=row["app"], version=row["version"], title=row["title"],
        runtime_requirement=row["runtime_requirement"], manifest=row["manifest"],
        sha256=row["sha256"], size_bytes=row["size_bytes"], created_at=row["created_at"],
        active=row["active"],
    )


def _app_from(row: asyncpg.Record, versions: list[AppVersionOut]) -> AppOut:
    ordered = sorted(versions, key=lambda v: version_key(v.version), reverse=True)
    active = next((v.version for v in ordered if v.active), None)
    return AppOut(id=str(row["id"]), name=row["name"], title=row["title"],
                  active_version=active, versions=ordered, created_at=row["created_at"])


async def list_apps(conn: asyncpg.Connection, actor: Principal) -> list[AppOut]:
    """Every app ``actor`` may use, by name, each with its versions (newest first)."""
    usable = await app_rights.usable(conn, actor)
    apps = [a for a in await conn.fetch("SELECT id, name, title, created_at FROM apps "
                                        "ORDER BY name") if a["id"] in usable]
    versions: dict[object, list[AppVersionOut]] = {}
    for row in await conn.fetch(_VERSION_SELECT):
        versions.setdefault(row["app_id"], []).append(version_from_row(row))
    return [_app_from(a, versions.get(a["id"], [])) for a in apps]


async def get_app(conn: asyncpg.Connection, name: str) -> AppOut:
    """The app called ``name`` with its versions; NotFound when there is none."""
    row = await conn.fetchrow("SELECT id, name, title, created_at FROM apps WHERE name = $1",
                              name)
    if row is None:
        raise NotFound(f"app {name!r} not found")
    rows = await conn.fetch(f"{_VERSION_SELECT} WHERE v.app_id = $1", row["id"])
    return _app_from(row, [version_from_row(r) for r in rows])


async def publish_version(
    conn: asyncpg.Connection, actor: Principal, request: PublishAppVersion
) -> AppVersionOut:
    """Record a verified app version, creating the app on its first version.

    The first version of an app is always activated; later ones when ``request.activate``.
    Events ``modelport.app.version_published`` and, on activation, ``modelport.app.activated``.
    Raises BadRequest ``invalid_requirement`` / ``runtime_unsatisfied`` (no registered runtime
    meets the requirement), Conflict ``duplicate_version``; NotFound / Forbidden unless
    ``actor`` may publish the app (:data:`Action.APP_PUBLISH`: a new app is theirs).
    """
    check_runtime_requirement(request.runtime_requirement)
    app_id = await _lock_or_create_app(conn, actor, request.name, request.title)
    await app_rights.require(conn, actor, Action.APP_PUBLISH, request.name, code="not_found")
    first = await conn.fetchval("SELECT count(*) FROM app_versions WHERE app_id = $1",
                                app_id) == 0
    version_id = await conn.fetchval(
        "INSERT INTO app_versions (app_id, version, title, runtime_requirement, manifest, s3_key, "
        "sha256, size_bytes, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (app_id, version) DO NOTHING RETURNING id",
        app_id, request.version, request.title, request.runtime_requirement, request.manifest,
        request.s3_key, request.sha256, request.size_bytes, actor.user_id,
    )
    if version_id is None:
        raise Conflict(f"{request.name} {request.version} is published already",
                       code="duplicate_version")
    await require_runtime(conn, request.runtime_requirement)
    event = _event(app_id, request.name, version_id, request.version)
    await record_change(conn, actor, "app.publish", subject=str(app_id),
                        event_type=AppVersionEvent.PUBLISHED, event=event)
    if first or request.activate:
        await _set_active(conn, actor, event, request.title)
    row = await _version_row(conn, app_id, request.name, request.version)
    return version_from_row(row)


async def activate_version(
    conn: asyncpg.Connection, actor: Principal, name: str, version: str
) -> AppOut:
    """Make ``version`` the active version of ``name`` (an older one: a rollback).

    Event ``modelport.app.activated``; activating the active version changes nothing.
    Raises NotFound; BadRequest ``runtime_unsatisfied`` when no registered runtime meets the
    version's requirement any more.
    """
    app_id = await _lock_app(conn, name)
    target = await _version_row(conn, app_id, name, version)
    if not target["active"]:
        await require_runtime(conn, target["runtime_requirement"])
        event = _event(app_id, name, target["id"], version)
        await _set_active(conn, actor, event, target["title"])
    return await get_app(conn, name)


async def delete_version(
    conn: asyncpg.Connection, actor: Principal, name: str, version: str
) -> str:
    """Delete a version of ``name``; return its S3 key for the caller to remove.

    Deleting the last version deletes the app. Event ``modelport.app.deleted``. Raises
    NotFound; Conflict ``in_use`` when it is the active version while others exist, when an
    unfinished job or session uses it, when finished ones still refer to it, or (for the last
    version) when cases of the app exist.
    """
    app_id = await _lock_app(conn, name)
    target = await _version_row(conn, app_id, name, version, lock=True)
    remaining = await conn.fetchval("SELECT count(*) FROM app_versions WHERE app_id = $1",
                                    app_id)
    if target["active"] and remaining > 1:
        raise Conflict(f"{name} {version} is the active version; activate another first",
                       code="in_use")
    await _refuse_if_running(conn, f"{name} {version}", target["id"])
    last = remaining == 1
    if last:
        await _refuse_if_cases(conn, name, app_id)
    await _delete_rows(conn, f"{name} {version}", app_id if last else None, target["id"])
    event = _event(app_id, name, target["id"], version)
    await record_change(conn, actor, "app.delete_version", subject=str(app_id),
                        event_type=AppVersionEvent.DELETED, event=event,
                        detail=event.model_dump(mode="json") | {"app_removed": last})
    return str(target["s3_key"])


def _event(app_id: object, app: str, version_id: object, version: str) -> AppVersionEvent:
    return AppVersionEvent(app_id=str(app_id), app=app, version_id=str(version_id),
                           version=version)


async def _lock_or_create_app(
    conn: asyncpg.Connection, actor: Principal, name: str, title: str
) -> object:
    await conn.execute(
        "INSERT INTO apps (name, title, owner_id) VALUES ($1, $2, $3) "
        "ON CONFLICT (name) DO NOTHING", name, title, actor.user_id,
    )
    return await _lock_app(conn, name)


async def _lock_app(conn: asyncpg.Connection, name: str) -> object:
    """The id of app ``name``, its row locked until the transaction ends; NotFound if none."""
    app_id = await conn.fetchval("SELECT id FROM apps WHERE name = $1 FOR UPDATE", name)
    if app_id is None:
        raise NotFound(f"app {name!r} not found")
    return app_id


async def _version_row(
    conn: asyncpg.Connection, app_id: object, name: str, version: str, *, lock: bool = False
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"{_VERSION_SELECT} WHERE v.app_id = $1 AND v.version = $2"
        f"{' FOR UPDATE OF v' if lock else ''}", app_id, version,
    )
    if row is None:
        raise NotFound(f"{name} {version} not found")
    return row


async def _set_active(
    conn: asyncpg.Connection, actor: Principal, event: AppVersionEvent, title: str
) -> None:
    await conn.execute("UPDATE apps SET active_version_id = $2, title = $3 WHERE id = $1",
                       event.app_id, event.version_id, title)
    await record_change(conn, actor, "app.activate", subject=event.app_id,
                        event_type=AppVersionEvent.ACTIVATED, event=event)


async def _refuse_if_running(conn: asyncpg.Connection, what: str, version_id: object) -> None:
    jobs = await conn.fetchval(
        "SELECT count(*) FROM jobs WHERE app_version_id = $1 AND state = ANY($2::text[])",
        version_id, list(LIVE_JOB_STATES),
    )
    sessions = await conn.fetchval(
        "SELECT count(*) FROM sessions WHERE app_version_id = $1 AND state = ANY($2::text[])",
        version_id, list(LIVE_SESSION_STATES),
    )
    if jobs or sessions:
        raise Conflict(f"{what} is in use by {jobs} unfinished job(s) and {sessions} "
                       "unfinished session(s)", code="in_use")


async def _refuse_if_cases(conn: asyncpg.Connection, name: str, app_id: object) -> None:
    cases = await conn.fetchval("SELECT count(*) FROM cases WHERE app_id = $1", app_id)
    if cases:
        raise Conflict(f"{name} has {cases} case(s); deleting its last version would delete "
                       "the app, so delete the cases first", code="in_use")


async def _delete_rows(
    conn: asyncpg.Connection, what: str, app_id: object | None, version_id: object
) -> None:
    """Delete the version, or with ``app_id`` the whole app (its last version cascades)."""
    try:
        if app_id is not None:
            await conn.execute("DELETE FROM apps WHERE id = $1", app_id)
        else:
            await conn.execute("DELETE FROM app_versions WHERE id = $1", version_id)
    except asyncpg.ForeignKeyViolationError:
        # Finished jobs and sessions keep their app version as part of their history.
        raise Conflict(f"{what} is in use: finished jobs or sessions still refer to it",
                       code="in_use") from None
