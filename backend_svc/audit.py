"""The audit log: one row for every change, written in the change's transaction."""

from __future__ import annotations

from typing import Any

import asyncpg

from common.contracts.base import Principal


async def record(
    conn: asyncpg.Connection, actor: Principal, action: str, subject: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor_id, actor_name, action, subject, detail) "
        "VALUES ($1, $2, $3, $4, $5)",
        actor.user_id, actor.username, action, subject, detail or {},
    )
