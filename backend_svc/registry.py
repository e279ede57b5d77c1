"""The runtime registry, and the rule that binds runtimes to apps.

Each function runs on a connection the caller provides; those that change state expect the
caller's transaction, so the row, its audit entry and its outbox event commit together.

The invariant kept here: every app's active version has a registered runtime that meets its
runtime requirement. Publishing and activating check it while holding a share lock on the
runtime rows; deleting a runtime checks it while holding that runtime's row lock, so the two
cannot interleave.
"""

from __future__ import annotations

import asyncpg
from packaging.version import InvalidVersion, Version

from backend_svc.changes import record_change
from common.contracts.base import Principal
from common.contracts.registry import (
    RegisterRuntime,
    RuntimeDeletedEvent,
    RuntimeOut,
    RuntimeRegistered,
)
from common.errors import BadRequest, Conflict, NotFound
from common.packages.versions import check_requirement, check_semver, runtime_satisfies

_RUNTIME_COLUMNS = "id, version, manifest, sha256, size_bytes, signer_key_id, created_at"


def version_key(version: str) -> tuple[int, Version | str]:
    """Sort key putting versions in semantic order (unreadable ones first, by text)."""
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def satisfies(requirement: str, runtime_version: str) -> bool:
    """Whether ``runtime_version`` meets ``requirement``; malformed input meets nothing."""
    try:
        return runtime_satisfies(requirement, runtime_version)
    except ValueError:
        return False


def check_runtime_requirement(requirement: str) -> None:
    """Raise BadRequest ``invalid_requirement`` unless ``requirement`` reads like ``>=1.0``."""
    try:
        check_requirement(requirement)
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_requirement") from None


def runtime_from_row(row: asyncpg.Record) -> RuntimeOut:
    return RuntimeOut(
        id=str(row["id"]), version=row["version"], manifest=row["manifest"],
        sha256=row["sha256"], size_bytes=row["size_bytes"],
        signer_key_id=row["signer_key_id"], created_at=row["created_at"],
    )


async def register_runtime(
    conn: asyncpg.Connection, actor: Principal, request: RegisterRuntime
) -> RuntimeOut:
    """Record a verified runtime package; event ``modelport.runtime.registered``.

    Raises BadRequest ``invalid_version`` for a version PEP 440 cannot order, Conflict
    ``duplicate_version`` when the version is registered already.
    """
    try:
        check_semver(request.version)
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_version") from None
    row = await conn.fetchrow(
        f"INSERT INTO runtimes (version, manifest, s3_key, sha256, size_bytes, signer_key_id, "
        f"created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (version) DO NOTHING "
        f"RETURNING {_RUNTIME_COLUMNS}",
        request.version, request.manifest, request.s3_key, request.sha256, request.size_bytes,
        request.signer_key_id, actor.user_id,
    )
    if row is None:
        raise Conflict(f"runtime {request.version} is registered already",
                       code="duplicate_version")
    runtime = runtime_from_row(row)
    event = RuntimeRegistered(runtime_id=runtime.id, version=runtime.version,
                              signer_key_id=runtime.signer_key_id)
    await record_change(conn, actor, "runtime.register", subject=runtime.id,
                        event_type=RuntimeRegistered.TYPE, event=event)
    return runtime


async def list_runtimes(conn: asyncpg.Connection) -> list[RuntimeOut]:
    """Every registered runtime, newest version first."""
    rows = await conn.fetch(f"SELECT {_RUNTIME_COLUMNS} FROM runtimes")
    runtimes = [runtime_from_row(r) for r in rows]
    return sorted(runtimes, key=lambda r: version_key(r.version), reverse=True)


async def get_runtime(conn: asyncpg.Connection, version: str) -> RuntimeOut:
    """The runtime of ``version``; NotFound when there is none."""
    row = await conn.fetchrow(f"SELECT {_RUNTIME_COLUMNS} FROM runtimes WHERE version = $1",
                              version)
    if row is None:
        raise NotFound(f"runtime {version} not found")
    return runtime_from_row(row)


async def delete_runtime(conn: asyncpg.Connection, actor: Principal, version: str) -> str:
    """Delete the runtime of ``version``; return its S3 key for the caller to remove.

    Raises NotFound; Conflict ``in_use`` while an app's active version needs it (it is the only
    registered runtime meeting that version's requirement). Event ``modelport.runtime.deleted``.
    """
    row = await conn.fetchrow(
        "SELECT id, version, s3_key FROM runtimes WHERE version = $1 FOR UPDATE", version
    )
    if row is None:
        raise NotFound(f"runtime {version} not found")
    stranded = await _apps_needing_only(conn, row["id"], version)
    if stranded:
        raise Conflict(
            f"runtime {version} is in use: it is the only registered runtime that meets the "
            f"active version of {', '.join(stranded)}", code="in_use",
        )
    await conn.execute("DELETE FROM runtimes WHERE id = $1", row["id"])
    event = RuntimeDeletedEvent(runtime_id=str(row["id"]), version=version)
    await record_change(conn, actor, "runtime.delete", subject=str(row["id"]),
                        event_type=RuntimeDeletedEvent.TYPE, event=event)
    return str(row["s3_key"])


async def _apps_needing_only(
    conn: asyncpg.Connection, runtime_id: object, version: str
) -> list[str]:
    """Active app versions (``"app 1.0.0 (>=1.0)"``) that only this runtime satisfies."""
    others = [r["version"] for r in
              await conn.fetch("SELECT version FROM runtimes WHERE id <> $1", runtime_id)]
    active = await conn.fetch(
        "SELECT a.name, v.version, v.runtime_requirement FROM apps a "
        "JOIN app_versions v ON v.id = a.active_version_id ORDER BY a.name"
    )
    return [
        f"{r['name']} {r['version']} ({r['runtime_requirement']})" for r in active
        if satisfies(r["runtime_requirement"], version)
        and not any(satisfies(r["runtime_requirement"], other) for other in others)
    ]


async def require_runtime(conn: asyncpg.Connection, requirement: str) -> None:
    """Share-lock the runtimes and check one meets ``requirement``.

    Raises BadRequest ``runtime_unsatisfied`` naming the requirement and the registered
    versions. The lock holds until the caller's transaction ends, so no runtime it relied on
    can be deleted before the caller commits.
    """
    rows = await conn.fetch("SELECT version FROM runtimes ORDER BY id FOR SHARE")
    versions = sorted((r["version"] for r in rows), key=version_key)
    if not any(satisfies(requirement, v) for v in versions):
        raise BadRequest(
            f"no registered runtime meets the requirement {requirement!r}; registered "
            f"runtimes: {', '.join(versions) or 'none'}", code="runtime_unsatisfied",
        )
