"""OpenID Connect sign-in, backend's half: the user linked to a verified identity.

The portal verified the ID token; here the identity ``(issuer, subject)`` — never the e-mail or
the name, which a provider may let its users choose — finds its user. An identity nobody is
linked to gets a new user when ``create_users`` allows it (a fresh name derived from the
claims: an existing account is never taken over by a matching name), and is refused otherwise.
Then the mapped groups are synced to the group claim and a token is issued, all in one
transaction. Refusals are audited as ``signin.refused`` in a transaction of their own, so they
are kept while the refused sign-in changes nothing else (docs/security.md, "Single sign-on").
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import structlog

from backend_svc import audit, groups, users
from backend_svc.outbox import record_event
from common.contracts.base import Principal
from common.contracts.events import UserCreated
from common.contracts.oidc import OidcRefusal, VerifiedClaims
from common.contracts.users import USERNAME_PATTERN, TokenIssued, UserOut
from common.errors import Forbidden

log = structlog.get_logger(__name__)
SYNC_ACTOR = Principal(system=True, is_admin=True, username="oidc")
"""Who the audit names for what a sign-in changes on its own (new users, group syncs)."""
UNKNOWN_USER = ("no Modelport account is linked to this sign-in, and accounts are not created "
                "automatically here; ask an administrator for access")
DISABLED = "this account is disabled; ask an administrator"
_NAME_OK = re.compile(USERNAME_PATTERN)
_NAME_CHARS = re.compile(r"[^a-z0-9_.-]+")
_NAME_TRIES = 9


@dataclass(frozen=True)
class OidcPolicy:
    create_users: bool
    group_map: Mapping[str, str]  # a group claim value → a Modelport group
    token_ttl: timedelta


class OidcSignIn:
    def __init__(self, pool: asyncpg.Pool, policy: OidcPolicy):
        self._pool = pool
        self._policy = policy

    async def sign_in(self, claims: VerifiedClaims) -> TokenIssued:
        """A token for the user linked to ``claims``' identity.

        Raises Forbidden ``oidc_unknown_user`` (nobody linked, creation off) or
        ``account_disabled``, after auditing the refusal.
        """
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                issued = await self._sign_in(conn, claims)
            if isinstance(issued, TokenIssued):
                return issued
            await _audit_refusal(conn, claims.preferred_username or claims.subject, claims.subject,
                                 {"ip": claims.client_ip, "reason": issued.code,
                                  "issuer": claims.issuer, "email": claims.email})
        raise issued

    async def _sign_in(self, conn: asyncpg.Connection, claims: VerifiedClaims
                       ) -> TokenIssued | Forbidden:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                           f"oidc {claims.issuer} {claims.subject}")  # one first sign-in at once
        row = await conn.fetchrow(
            "SELECT " + ", ".join(f"u.{c}" for c in users.USER_COLUMNS.split(", ")) + " "
            "FROM user_identities i JOIN users u ON u.id = i.user_id "
            "WHERE i.issuer = $1 AND i.subject = $2", claims.issuer, claims.subject)
        if row is not None and row["disabled"]:
            return Forbidden(DISABLED, code="account_disabled")
        if row is None and not self._policy.create_users:
            return Forbidden(UNKNOWN_USER, code="oidc_unknown_user")
        user = users.user_from_row(row) if row else await _create_user(conn, claims)
        await conn.execute(
            "UPDATE user_identities SET last_signin_at = now(), email = $3 "
            "WHERE issuer = $1 AND subject = $2", claims.issuer, claims.subject, claims.email)
        await self._sync_groups(conn, user, claims.groups)
        token, _ = await users.issue_token(conn, user, label=claims.token_label,
                                        ttl=self._policy.token_ttl)
        await audit.record(conn, users.principal_of(user), "signin.oidc", user.id,
                           {"ip": claims.client_ip, "issuer": claims.issuer,
                            "subject": claims.subject, "created": row is None})
        log.info("oidc_signin", user_id=user.id, created=row is None)
        return TokenIssued(token=token, user=user)

    async def _sync_groups(self, conn: asyncpg.Connection, user: UserOut,
                           claimed: list[str]) -> None:
        """Membership of every mapped group = what the claim grants; other groups untouched."""
        granted = {self._policy.group_map[g] for g in claimed if g in self._policy.group_map}
        for group in sorted(set(self._policy.group_map.values())):
            if group in granted:
                if not await conn.fetchval("SELECT 1 FROM groups WHERE name = $1", group):
                    await groups.create_group(conn, SYNC_ACTOR, group)
                await groups.add_member(conn, SYNC_ACTOR, group, user.username)
            elif await conn.fetchval("SELECT 1 FROM groups WHERE name = $1", group):
                await groups.remove_member(conn, SYNC_ACTOR, group, user.username)

    async def refused(self, refusal: OidcRefusal) -> None:
        """Audit a sign-in the portal refused before it had verified claims."""
        async with self._pool.acquire() as conn:
            await _audit_refusal(conn, refusal.subject or "oidc", refusal.subject,
                                 {"ip": refusal.client_ip, "reason": refusal.reason,
                                  "detail": refusal.detail, "issuer": refusal.issuer})


async def _audit_refusal(conn: asyncpg.Connection, name: str, subject: str,
                         detail: dict[str, object]) -> None:
    await audit.record(conn, Principal(username=name[:200]), "signin.refused", subject, detail)


async def _create_user(conn: asyncpg.Connection, claims: VerifiedClaims) -> UserOut:
    """A new user (no password) linked to the identity, with its audit row and event."""
    for name in username_candidates(claims):
        row = await conn.fetchrow(
            "INSERT INTO users (username, display_name, password_hash) VALUES ($1, $2, NULL) "
            "ON CONFLICT (username) DO NOTHING "
            f"RETURNING {users.USER_COLUMNS}",
            name, claims.name[:200] or name)
        if row is not None:
            break
    else:  # pragma: no cover - the last candidate is random
        raise RuntimeError("no free user name")
    user = users.user_from_row(row)
    await conn.execute("INSERT INTO user_identities (issuer, subject, user_id, email) "
                       "VALUES ($1, $2, $3, $4)", claims.issuer, claims.subject, row["id"],
                       claims.email)
    await audit.record(conn, SYNC_ACTOR, "user.create", user.id,
                       {"username": user.username, "is_admin": False, "issuer": claims.issuer,
                        "subject": claims.subject})
    event = UserCreated(user_id=user.id, username=user.username, is_admin=False)
    await record_event(conn, UserCreated.TYPE, event.model_dump(mode="json"), subject=user.id)
    return user


def username_candidates(claims: VerifiedClaims) -> list[str]:
    """Names to try for a new user: from ``preferred_username`` (else the e-mail's local
    part), then with ``-2`` … ``-9``, then with a random suffix; every one a valid name."""
    raw = claims.preferred_username or claims.email.partition("@")[0] or "user"
    base = _NAME_CHARS.sub("-", raw.lower()).strip("-._")[:40]
    if not _NAME_OK.match(base):
        base = f"user-{base}".rstrip("-._") if base else "user"
    names = [base] + [f"{base}-{n}" for n in range(2, _NAME_TRIES + 1)]
    return [*names, f"{base}-{secrets.token_hex(4)}"]
