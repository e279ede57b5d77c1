"""Users and API tokens: the domain operations, each on a connection the caller provides.

Functions that change state expect to run inside the caller's transaction, so the row, its
audit entry and its outbox event commit or roll back together.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import asyncpg

from backend_svc import audit
from backend_svc.changes import record_change
from backend_svc.outbox import record_event
from backend_svc.passwords import hash_password
from common.contracts.base import Principal, Role
from common.contracts.events import UserCreated
from common.contracts.users import UserOut, UserRoleChanged
from common.errors import Conflict, NotFound, Unauthenticated

TOKEN_PREFIX = "mp_"
_USER_COLUMNS = "id, username, display_name, is_admin, role, created_at"
BAD_LOGIN = "wrong username or password"


def user_from_row(row: asyncpg.Record) -> UserOut:
    return UserOut(
        id=str(row["id"]), username=row["username"], display_name=row["display_name"],
        is_admin=row["is_admin"], role=row["role"], created_at=row["created_at"],
    )


def principal_of(user: UserOut) -> Principal:
    return user.principal


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create_user(
    conn: asyncpg.Connection, actor: Principal, *, username: str, password: str,
    display_name: str = "", role: Role = "user",
) -> UserOut:
    """Insert a user with its audit entry and ``modelport.user.created`` event.

    Raises Conflict when the name is taken.
    """
    password_hash = await hash_password(password)
    row = await conn.fetchrow(
        f"INSERT INTO users (username, display_name, password_hash, role) "
        f"VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO NOTHING RETURNING {_USER_COLUMNS}",
        username, display_name or username, password_hash, role,
    )
    if row is None:
        raise Conflict(f"a user named {username!r} exists already", code="user_exists")
    user = user_from_row(row)
    await audit.record(conn, actor, "user.create", user.id, {"username": username,
                                                              "role": role})
    event = UserCreated(user_id=user.id, username=username, is_admin=user.is_admin, role=role)
    await record_event(conn, UserCreated.TYPE, event.model_dump(mode="json"), subject=user.id)
    return user


async def set_role(
    conn: asyncpg.Connection, actor: Principal, username: str, role: Role
) -> UserOut:
    """Give ``username`` the ``role``; event ``modelport.user.role_changed`` unless it is
    theirs already. Raises NotFound ``unknown_user``; Conflict ``last_admin`` when it would
    leave the platform without an enabled admin."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('users.role'))")
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE username = $1 "
                              "FOR UPDATE", username)
    if row is None:
        raise NotFound(f"user {username!r} not found", code="unknown_user")
    user = user_from_row(row)
    if user.role == role:
        return user
    if user.role == "admin" and await conn.fetchval(
            "SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled") <= 1:
        raise Conflict(f"{username} is the last admin; make another admin first",
                       code="last_admin")
    row = await conn.fetchrow(f"UPDATE users SET role = $2 WHERE id = $1 "
                              f"RETURNING {_USER_COLUMNS}", row["id"], role)
    changed = user_from_row(row)
    event = UserRoleChanged(user_id=user.id, username=username, role=role, previous=user.role)
    await record_change(conn, actor, "user.set_role", subject=user.id,
                        event_type=UserRoleChanged.TYPE, event=event)
    return changed


async def find_user(conn: asyncpg.Connection, username: str) -> UserOut | None:
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE username = $1", username)
    return user_from_row(row) if row else None


async def list_users(conn: asyncpg.Connection, *, limit: int, offset: int) -> tuple[
    list[UserOut], int
]:
    rows = await conn.fetch(
        f"SELECT {_USER_COLUMNS} FROM users ORDER BY username LIMIT $1 OFFSET $2", limit, offset
    )
    total = await conn.fetchval("SELECT count(*) FROM users")
    return [user_from_row(r) for r in rows], int(total)


async def password_row(conn: asyncpg.Connection, username: str) -> asyncpg.Record | None:
    """The enabled user's row with its ``password_hash`` (checked by :mod:`backend_svc.signin`
    after this connection is given back)."""
    return await conn.fetchrow(
        f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE username = $1 AND NOT disabled",
        username,
    )


async def issue_token(
    conn: asyncpg.Connection, user: UserOut, *, label: str, ttl: timedelta
) -> str:
    """A new API token for ``user``; only its hash is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO api_tokens (user_id, token_hash, label, expires_at) VALUES ($1,$2,$3,$4)",
        user.id, _token_hash(token), label, datetime.now(UTC) + ttl,
    )
    await audit.record(conn, principal_of(user), "token.issue", user.id, {"label": label})
    return token


async def resolve_token(conn: asyncpg.Connection, token: str) -> UserOut:
    """The user a live token belongs to; Unauthenticated when unknown, expired or revoked."""
    row = await conn.fetchrow(
        f"UPDATE api_tokens t SET last_used_at = now() FROM users u "
        f"WHERE t.token_hash = $1 AND t.user_id = u.id AND t.revoked_at IS NULL "
        f"AND t.expires_at > now() AND NOT u.disabled "
        f"RETURNING {', '.join('u.' + c for c in _USER_COLUMNS.split(', '))}",
        _token_hash(token),
    )
    if row is None:
        raise Unauthenticated("the token is unknown, expired or revoked", code="invalid_token")
    return user_from_row(row)


async def revoke_token(conn: asyncpg.Connection, token: str) -> None:
    """Revoke a token; revoking an unknown or revoked token changes nothing."""
    row = await conn.fetchrow(
        "UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL "
        "RETURNING user_id",
        _token_hash(token),
    )
    if row is not None:
        actor = Principal(user_id=str(row["user_id"]), username="token-holder")
        await audit.record(conn, actor, "token.revoke", str(row["user_id"]))
