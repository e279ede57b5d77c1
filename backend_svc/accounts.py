"""Local accounts: change your password, an admin's reset, disabling and enabling.

argon2 runs with no connection held and outside any transaction (docs/security.md): the
current password is checked by the bounded :class:`~backend_svc.passwords.PasswordWork`
(429 ``signin_busy`` when too many wait), the new one hashed before the short transaction that
stores it. A reset and a disabling revoke every token of the account, with the
``modelport.token.revoked`` event that closes its live streams on every portal.
"""

from __future__ import annotations

import asyncpg
import structlog

from backend_svc import audit, tokens, users
from backend_svc.outbox import record_event
from backend_svc.passwords import Busy, PasswordWork, hash_password
from backend_svc.signin import BUSY
from common.contracts.base import Principal
from common.contracts.events import UserDisabled
from common.contracts.users import ChangePassword, ResetPassword, SetDisabled, UserOut
from common.errors import Conflict, Forbidden, NotFound, TooManyRequests

log = structlog.get_logger(__name__)


class Accounts:
    def __init__(self, pool: asyncpg.Pool, work: PasswordWork):
        self._pool = pool
        self._work = work

    async def change_password(self, request: ChangePassword) -> None:
        """The actor's own password, once the current one matches (403 ``wrong_password``).
        The caller's tokens stay valid."""
        actor = request.actor
        async with self._pool.acquire() as conn:
            stored = await conn.fetchval(
                "SELECT password_hash FROM users WHERE id = $1::uuid AND NOT disabled",
                actor.user_id)
        if stored is None:
            raise NotFound("no such user")
        try:
            good = await self._work.verify(stored, request.current_password.get_secret_value())
        except Busy:
            raise TooManyRequests(BUSY, code="signin_busy", retry_after_s=1) from None
        if not good:
            async with self._pool.acquire() as conn:
                await audit.record(conn, actor, "user.password_refused", actor.user_id or "")
            raise Forbidden("the current password is wrong", code="wrong_password")
        new_hash = await hash_password(request.new_password.get_secret_value())
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1::uuid",
                               actor.user_id, new_hash)
            await audit.record(conn, actor, "user.password_change", actor.user_id or "")

    async def reset_password(self, request: ResetPassword) -> UserOut:
        """Set ``username``'s password (admins; the guard checked) and revoke its tokens."""
        new_hash = await hash_password(request.new_password.get_secret_value())
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"UPDATE users SET password_hash = $2 WHERE username = $1 "
                f"RETURNING {users.USER_COLUMNS}", request.username, new_hash)
            if row is None:
                raise NotFound(f"no user {request.username!r}")
            user = users.user_from_row(row)
            await audit.record(conn, request.actor, "user.password_reset", user.id,
                               {"username": request.username})
            await tokens.revoke_all(conn, request.actor, user.id, reason="password_reset")
        return user

    async def set_disabled(self, request: SetDisabled) -> UserOut:
        """Disable (revoking every token) or enable ``username``; 409 ``cannot_disable_self``
        for an admin's own account."""
        if request.disabled and request.username == request.actor.username:
            raise Conflict("you cannot disable your own account", code="cannot_disable_self")
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"UPDATE users SET disabled = $2 WHERE username = $1 "
                f"RETURNING {users.USER_COLUMNS}", request.username, request.disabled)
            if row is None:
                raise NotFound(f"no user {request.username!r}")
            user = users.user_from_row(row)
            await _record_disabled(conn, request.actor, user)
            if request.disabled:
                await tokens.revoke_all(conn, request.actor, user.id, reason="disabled")
        log.info("account_disabled" if user.disabled else "account_enabled", user_id=user.id)
        return user


async def _record_disabled(conn: asyncpg.Connection, actor: Principal, user: UserOut) -> None:
    kind = UserDisabled.DISABLED if user.disabled else UserDisabled.ENABLED
    await audit.record(conn, actor, "user.disabled" if user.disabled else "user.enabled",
                       user.id, {"username": user.username})
    data = UserDisabled(user_id=user.id, username=user.username).model_dump(mode="json")
    await record_event(conn, kind, data, subject=user.id)
