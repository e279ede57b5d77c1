"""Personal API tokens and "sign out everywhere": the domain operations.

Each runs on a connection inside the caller's transaction, so a revocation, its audit entry and
its ``modelport.token.revoked`` event commit together (portals close live streams on that
event: docs/security.md, "Revocation").
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg

from backend_svc import audit, users
from backend_svc.policy import Action, authorize, authorize_private
from common.contracts.base import Principal
from common.contracts.tokens import CreateToken, TokenCreated, TokenOut
from common.contracts.users import UserOut
from common.errors import BadRequest, NotFound

PERSONAL = "personal"
_COLUMNS = ("t.id, t.user_id, u.username, t.label, t.scope, t.created_at, t.expires_at, "
            "t.last_used_at")


def token_from_row(row: asyncpg.Record, user: UserOut | None = None) -> TokenOut:
    return TokenOut(
        id=str(row["id"]), user_id=user.id if user else str(row["user_id"]),
        username=user.username if user else row["username"], name=row["label"],
        scope=row["scope"], created_at=row["created_at"], expires_at=row["expires_at"],
        last_used_at=row["last_used_at"])


def lifetime(request: CreateToken, *, default_days: int, max_days: int) -> timedelta:
    """The asked lifetime, the default when none; BadRequest ``expiry_too_long`` beyond max."""
    days = request.expires_in_days or default_days
    if days > max_days:
        raise BadRequest(f"a token may live at most {max_days} days", code="expiry_too_long")
    return timedelta(days=days)


async def create(conn: asyncpg.Connection, actor: Principal, request: CreateToken,
                 ttl: timedelta) -> TokenCreated:
    """A personal token of ``actor`` (the secret is in this answer only)."""
    user = await _user(conn, actor.user_id)
    token, row = await users.issue_token(conn, user, label=request.name, ttl=ttl,
                                         kind=PERSONAL, scope=request.scope)
    info = token_from_row(row, user)
    return TokenCreated(**info.model_dump(exclude={"v"}), token=token)


async def list_live(conn: asyncpg.Connection, actor: Principal,
                    username: str | None) -> list[TokenOut]:
    """The live (unrevoked, unexpired) personal tokens of ``username`` (admins) or the actor."""
    if username is not None and username != actor.username:
        authorize(actor, Action.TOKEN_LIST_ALL)
        owner = await users.find_user(conn, username)
        if owner is None:
            raise NotFound(f"no user {username!r}")
        user_id = owner.id
    else:
        user_id = actor.user_id or ""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE t.user_id = $1 AND t.kind = $2 AND t.revoked_at IS NULL "
        "AND t.expires_at > now() ORDER BY t.created_at, t.id", user_id, PERSONAL)
    return [token_from_row(r) for r in rows]


async def revoke(conn: asyncpg.Connection, actor: Principal, token_id: str) -> TokenOut:
    """Revoke one live personal token; NotFound for a token the actor may not see (another
    user's), an unknown id, or one revoked already."""
    try:
        parsed = uuid.UUID(token_id)
    except ValueError:
        raise NotFound("token not found") from None
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE t.id = $1 AND t.kind = $2 AND t.revoked_at IS NULL FOR UPDATE OF t",
        parsed, PERSONAL)
    owner = str(row["user_id"]) if row else None
    if row is None:
        raise NotFound("token not found")
    authorize_private(actor, Action.TOKEN_REVOKE, Action.TOKEN_REVOKE, owner_id=owner,
                      shared=False, what="token")
    await conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = $1", row["id"])
    await audit.record(conn, actor, "token.revoke", token_id, {"owner": row["username"]})
    await users.record_revoked(conn, str(row["user_id"]), [token_id], reason="revoked")
    return token_from_row(row)


async def revoke_all(conn: asyncpg.Connection, actor: Principal, user_id: str, *,
                     reason: str) -> int:
    """Revoke every live token of ``user_id`` (personal and sign-in); how many were live."""
    revoked = await conn.fetchval(
        "WITH r AS (UPDATE api_tokens SET revoked_at = now() "
        "WHERE user_id = $1 AND revoked_at IS NULL RETURNING 1) SELECT count(*) FROM r",
        user_id)
    await audit.record(conn, actor, "token.revoke_all", user_id,
                       {"reason": reason, "revoked": int(revoked)})
    await users.record_revoked(conn, user_id, [], reason=reason, everything=True)
    return int(revoked)


async def _user(conn: asyncpg.Connection, user_id: str | None) -> UserOut:
    row = await conn.fetchrow(f"SELECT {users.USER_COLUMNS} FROM users WHERE id = $1::uuid",
                              user_id)
    if row is None:
        raise NotFound("no such user")
    return users.user_from_row(row)
