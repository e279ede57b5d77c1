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
from common.contracts.base import Principal, Role
from common.contracts.events import UserCreated
from common.contracts.tokens import TokensRevoked
from common.contracts.users import Scope, TokenHolder, UserOut, UserRoleChanged
from common.errors import Conflict, NotFound, Unauthenticated

TOKEN_PREFIX = "mp_"
USER_COLUMNS = "id, username, display_name, is_admin, role, created_at, disabled"
BAD_LOGIN = "wrong username or password"


def user_from_row(row: asyncpg.Record) -> UserOut:
    return UserOut(
        id=str(row["id"]), username=row["username"], display_name=row["display_name"],
        is_admin=row["is_admin"], role=row["role"], created_at=row["created_at"],
        disabled=row["disabled"],
    )


def principal_of(user: UserOut) -> Principal:
    return user.principal


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create_user(
    conn: asyncpg.Connection, actor: Principal, *, username: str, password_hash: str,
    display_name: str = "", role: Role = "user",
) -> UserOut:
    """Insert a user with its audit entry and ``modelport.user.created`` event.

    ``password_hash`` is made by :func:`backend_svc.passwords.hash_password` *before* the
    transaction (argon2 holds no connection). Raises Conflict when the name is taken.
    """
    row = await conn.fetchrow(
        f"INSERT INTO users (username, display_name, password_hash, role) "
        f"VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO NOTHING RETURNING {USER_COLUMNS}",
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
    row = await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE username = $1 "
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
                              f"RETURNING {USER_COLUMNS}", row["id"], role)
    changed = user_from_row(row)
    event = UserRoleChanged(user_id=user.id, username=username, role=role, previous=user.role)
    await record_change(conn, actor, "user.set_role", subject=user.id,
                        event_type=UserRoleChanged.TYPE, event=event)
    return changed


async def find_user(conn: asyncpg.Connection, username: str) -> UserOut | None:
    row = await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE username = $1", username)
    return user_from_row(row) if row else None


async def list_users(conn: asyncpg.Connection, *, limit: int, offset: int) -> tuple[
    list[UserOut], int
]:
    rows = await conn.fetch(
        f"SELECT {USER_COLUMNS} FROM users ORDER BY username LIMIT $1 OFFSET $2", limit, offset
    )
    total = await conn.fetchval("SELECT count(*) FROM users")
    return [user_from_row(r) for r in rows], int(total)


async def password_row(conn: asyncpg.Connection, username: str) -> asyncpg.Record | None:
    """The enabled user's row with its ``password_hash`` (checked by :mod:`backend_svc.signin`
    after this connection is given back)."""
    return await conn.fetchrow(
        f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1 AND NOT disabled",
        username,
    )


async def issue_token(
    conn: asyncpg.Connection, user: UserOut, *, label: str, ttl: timedelta,
    kind: str = "login", scope: Scope = "full", client_ip: str = "",
) -> tuple[str, asyncpg.Record]:
    """A new API token for ``user`` (asked from ``client_ip``) and its row; only the token's
    sha256 is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = await conn.fetchrow(
        "INSERT INTO api_tokens (user_id, token_hash, label, expires_at, kind, scope) "
        "VALUES ($1,$2,$3,$4,$5,$6) RETURNING id, label, scope, created_at, expires_at, "
        "last_used_at",
        user.id, token_hash(token), label, datetime.now(UTC) + ttl, kind, scope,
    )
    who = principal_of(user).model_copy(update={"client_ip": client_ip[:64]})
    await audit.record(conn, who, "token.issue", str(row["id"]),
                       {"label": label, "kind": kind, "scope": scope})
    return token, row


async def resolve_token(conn: asyncpg.Connection, token: str) -> TokenHolder:
    """The user a live token belongs to, with the token's id, scope and expiry.

    Raises Unauthenticated: ``invalid_token`` when unknown or revoked, ``token_expired``,
    ``account_disabled``."""
    row = await conn.fetchrow(
        f"UPDATE api_tokens t SET last_used_at = now() FROM users u "
        f"WHERE t.token_hash = $1 AND t.user_id = u.id AND t.revoked_at IS NULL "
        f"AND t.expires_at > now() AND NOT u.disabled "
        f"RETURNING t.id AS token_id, t.scope, t.expires_at, "
        f"{', '.join('u.' + c for c in USER_COLUMNS.split(', '))}",
        token_hash(token),
    )
    if row is None:
        raise await _refusal(conn, token)
    return TokenHolder(**user_from_row(row).model_dump(exclude={"v"}),
                       token_id=str(row["token_id"]), scope=row["scope"],
                       expires_at=row["expires_at"])


async def _refusal(conn: asyncpg.Connection, token: str) -> Unauthenticated:
    """Why a token does not resolve (told only to whoever holds the whole token)."""
    row = await conn.fetchrow(
        "SELECT t.revoked_at IS NOT NULL AS revoked, t.expires_at <= now() AS expired, "
        "u.disabled FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
        token_hash(token))
    if row is not None and row["disabled"]:
        return Unauthenticated("the account is disabled", code="account_disabled")
    if row is not None and not row["revoked"] and row["expired"]:
        return Unauthenticated("the token has expired", code="token_expired")
    return Unauthenticated("the token is unknown, expired or revoked", code="invalid_token")


async def revoke_token(conn: asyncpg.Connection, token: str) -> None:
    """Revoke a token; revoking an unknown or revoked token changes nothing."""
    row = await conn.fetchrow(
        "UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL "
        "RETURNING id, user_id",
        token_hash(token),
    )
    if row is not None:
        actor = Principal(user_id=str(row["user_id"]), username="token-holder")
        await audit.record(conn, actor, "token.revoke", str(row["id"]))
        await record_revoked(conn, str(row["user_id"]), [str(row["id"])], reason="logout")


async def record_revoked(conn: asyncpg.Connection, user_id: str, token_ids: list[str], *,
                         reason: str, everything: bool = False) -> None:
    """The ``modelport.token.revoked`` event, so every portal closes the streams they
    opened (in the revoking transaction, like every event)."""
    event = TokensRevoked(user_id=user_id, token_ids=token_ids, all=everything, reason=reason)
    await record_event(conn, TokensRevoked.TYPE, event.model_dump(mode="json"), subject=user_id)
