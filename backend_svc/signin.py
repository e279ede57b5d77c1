"""Password sign-in with lockout, its argon2 work outside any transaction (docs/security.md).

One sign-in: (1) a short read of the lockout and the password hash on a pooled connection,
given back at once; (2) argon2, bounded by :class:`PasswordWork`, holding no connection (when
too many wait already, 429 ``signin_busy`` at once); (3) a short transaction writing the
outcome: on success the failures are cleared and a token issued, on failure the failure is
counted (locking the name with back-off after ``LockoutPolicy.after`` in a row) and audited
with the client's address. A locked name is refused with 429 and ``retry_after_s`` without
any argon2 work, and audited too. The lockout lives in the database, so it holds across every
portal and backend replica.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import structlog

from backend_svc import audit, users
from backend_svc.passwords import Busy, PasswordWork
from common.contracts.base import Principal
from common.contracts.users import Authenticate, TokenIssued
from common.errors import TooManyRequests, Unauthenticated

log = structlog.get_logger(__name__)
LOCKED = "too many failed sign-ins; try again later"
BUSY = "sign-in is busy; try again in a moment"
FAILURES_FORGOTTEN_H = 24
"""A failure more than this long after the previous one counts from one again."""


@dataclass(frozen=True)
class LockoutPolicy:
    after: int  # failures in a row before the first lockout
    base_s: float
    max_s: float

    def lockout_s(self, failures: int) -> float | None:
        """How long ``failures`` in a row lock the name: base, doubling per further failure."""
        if failures < self.after:
            return None
        return min(self.max_s, self.base_s * 2 ** min(failures - self.after, 30))


class SignIn:
    def __init__(self, pool: asyncpg.Pool, work: PasswordWork, policy: LockoutPolicy,
                 *, token_ttl: timedelta):
        self._pool = pool
        self._work = work
        self._policy = policy
        self._token_ttl = token_ttl

    async def login(self, request: Authenticate) -> TokenIssued:
        name, ip = request.username, request.client_ip
        async with self._pool.acquire() as conn:
            remaining = await conn.fetchval(
                "SELECT extract(epoch FROM locked_until - now()) FROM login_failures "
                "WHERE username = $1 AND locked_until > now()", name)
            row = None if remaining else await users.password_row(conn, name)
        if remaining:
            await self._refused(name, ip, "locked")
            raise TooManyRequests(LOCKED, code="signin_locked",
                                  retry_after_s=math.ceil(float(remaining)))
        try:
            good = await self._work.verify(row["password_hash"] if row else None,
                                           request.password.get_secret_value())
        except Busy:
            await self._refused(name, ip, "busy")
            raise TooManyRequests(BUSY, code="signin_busy", retry_after_s=1) from None
        if not good or row is None:
            await self._failed(name, ip)
            raise Unauthenticated(users.BAD_LOGIN)
        user = users.user_from_row(row)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM login_failures WHERE username = $1", name)
            token, _ = await users.issue_token(conn, user, label=request.token_label,
                                               ttl=self._token_ttl, client_ip=ip)
        return TokenIssued(token=token, user=user)

    async def _failed(self, name: str, ip: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            failures = await conn.fetchval(
                "INSERT INTO login_failures (username, failures) VALUES ($1, 1) "
                "ON CONFLICT (username) DO UPDATE SET last_failure_at = now(), failures = CASE "
                "WHEN login_failures.last_failure_at < now() - make_interval(hours => $2) "
                "THEN 1 ELSE login_failures.failures + 1 END RETURNING failures",
                name, FAILURES_FORGOTTEN_H)
            lock_s = self._policy.lockout_s(failures)
            if lock_s is not None:
                await conn.execute(
                    "UPDATE login_failures SET locked_until = now() + make_interval(secs => $2) "
                    "WHERE username = $1", name, lock_s)
                log.warning("signin_locked", failures=failures, lock_s=lock_s)
            await _audit(conn, name, ip, "wrong_password", failures=failures,
                         locked_s=lock_s or 0)

    async def _refused(self, name: str, ip: str, reason: str) -> None:
        async with self._pool.acquire() as conn:
            await _audit(conn, name, ip, reason)


async def _audit(conn: asyncpg.Connection, name: str, ip: str, reason: str,
                 **detail: object) -> None:
    """Who (the name tried), from where (the client's address), why."""
    who = Principal(username=name, client_ip=ip[:64])
    await audit.record(conn, who, "signin.refused", name, {"ip": ip, "reason": reason, **detail})
