"""Contracts of the tokens family: personal API tokens and "sign out everywhere".

A personal token is made by its owner with a name, a scope (:data:`SCOPES`, what its holder
may do: docs/security.md, "Token scopes") and an expiry; it is shown once (:class:`TokenCreated`)
and only its sha256 is stored. Sign-in tokens (the browser's session, ``modelport login``) are
of kind ``login`` and always ``full``.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from common.contracts.base import Contract, Principal, Secret
from common.contracts.users import USERNAME_PATTERN, Scope

SCOPES: tuple[Scope, ...] = ("read", "jobs", "full")
"""From least to most: ``read`` ⊂ ``jobs`` ⊂ ``full``."""
TOKEN_NAME_PATTERN = r"^[^\x00-\x1f\x7f]{1,100}$"


class TokenOut(Contract):
    """A personal token as its owner (or an admin) sees it: never its secret."""

    id: str
    user_id: str
    username: str
    name: str
    scope: Scope
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None


class CreateToken(Contract):
    actor: Principal
    name: str = Field(pattern=TOKEN_NAME_PATTERN, description="What the token is for.")
    scope: Scope = Field(description="read, jobs or full (docs/security.md).")
    expires_in_days: int | None = Field(
        None, ge=1, description="Days until it expires; the platform's default when absent, "
        "at most its maximum (400 expiry_too_long beyond).")


class TokenCreated(TokenOut):
    token: Secret = Field(description="The secret, shown this once: send as "
                                      "`Authorization: Bearer <token>`.")


class ListTokens(Contract):
    actor: Principal
    username: str | None = Field(None, pattern=USERNAME_PATTERN,
                                 description="Whose tokens (admins); yours when absent.")


class TokenList(Contract):
    tokens: list[TokenOut]


class RevokeTokenId(Contract):
    actor: Principal
    token_id: str = Field(max_length=64)


class SignOutEverywhere(Contract):
    actor: Principal


class Revoked(Contract):
    revoked: int = Field(description="Tokens (personal and sign-in) revoked.")


class TokensRevoked(Contract):
    """Event data: tokens of a user stopped working (revoked one by one, all of them, or
    with the account's disabling). Every portal closes the live streams they opened."""

    TYPE: ClassVar[str] = "modelport.token.revoked"
    user_id: str
    token_ids: list[str] = Field(description="The tokens revoked; empty when ``all``.")
    all: bool = Field(description="Every token of the user (sign out everywhere, a password "
                                  "reset, the account disabled).")
    reason: str
