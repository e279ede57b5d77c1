"""Shared set-up for the registry, cases and groups tests: users, runtimes, apps, snapshots."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

import asyncpg

from common.amqp import topology
from common.amqp.rpc import RpcClient
from common.contracts.base import Principal
from common.contracts.methods import RegistryMethods, UserMethods
from common.contracts.registry import AppVersionOut, PublishAppVersion, RegisterRuntime, RuntimeOut
from common.contracts.users import CreateUser
from common.errors import ModelportError

B = topology.BACKEND_RPC
ADMIN = Principal(username="admin", is_admin=True)
SHA = "ab" * 32
TABLES = ("runtimes", "apps", "app_versions", "cases", "groups", "memberships", "jobs",
          "sessions", "audit_log", "outbox")


async def make_user(rpc: RpcClient, name: str, *, is_admin: bool = False) -> Principal:
    """A new user, as the principal the portal would send for them."""
    request = CreateUser(actor=Principal.SYSTEM, username=name, password="password-123",
                         is_admin=is_admin)
    user = await rpc.call_method(UserMethods.CREATE, request)
    return Principal(user_id=user.id, username=user.username, is_admin=user.is_admin)


async def add_runtime(rpc: RpcClient, version: str, actor: Principal = ADMIN) -> RuntimeOut:
    request = RegisterRuntime(
        actor=actor, version=version, manifest={"version": version, "python": "3.11"},
        s3_key=f"runtimes/{version}/runtime.tar", sha256=SHA, size_bytes=1234,
        signer_key_id="key-1",
    )
    return await rpc.call_method(RegistryMethods.REGISTER_RUNTIME, request)


async def publish(
    rpc: RpcClient, app: str, version: str, *, requirement: str = ">=1.0",
    activate: bool = True, actor: Principal = ADMIN,
) -> AppVersionOut:
    request = PublishAppVersion(
        actor=actor, name=app, version=version, title=f"{app.title()} {version}",
        runtime_requirement=requirement, manifest={"name": app, "version": version},
        s3_key=f"apps/{app}/{version}/app.mpapp", sha256=SHA, size_bytes=99, activate=activate,
    )
    return await rpc.call_method(RegistryMethods.PUBLISH_APP, request)


async def refused(call: Awaitable[object]) -> ModelportError:
    """The error ``call`` fails with; fails the test when it succeeds."""
    try:
        await call
    except ModelportError as exc:
        return exc
    raise AssertionError("the call succeeded; it should have been refused")


async def snapshot(dsn: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables these features touch, to prove a refusal changed nothing."""
    conn = await asyncpg.connect(dsn)
    try:
        return {t: [_settled(t, dict(r)) for r in
                    await conn.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in TABLES}
    finally:
        await conn.close()


def _settled(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` without what the relay stamps in the background."""
    if table == "outbox":
        row.pop("published_at")
    return row


async def insert_work(
    dsn: str, kind: str, user: Principal, version_id: str, state: str,
    case_id: str | None = None,
) -> str:
    """A job or session row in ``state`` using ``version_id`` (and a job's input case)."""
    conn = await asyncpg.connect(dsn)
    try:
        if kind == "job":
            row_id = await conn.fetchval(
                "INSERT INTO jobs (user_id, app_version_id, procedure, state, input_case_id) "
                "VALUES ($1, $2, 'solve', $3, $4) RETURNING id",
                uuid.UUID(user.user_id), uuid.UUID(version_id), state,
                uuid.UUID(case_id) if case_id else None,
            )
        else:
            row_id = await conn.fetchval(
                "INSERT INTO sessions (user_id, app_version_id, state) VALUES ($1, $2, $3) "
                "RETURNING id", uuid.UUID(user.user_id), uuid.UUID(version_id), state,
            )
        return str(row_id)
    finally:
        await conn.close()
