"""Contracts of the users family: create, authenticate, list, tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from common.contracts.base import (
    MAX_OFFSET,
    AdminAgrees,
    Contract,
    Principal,
    Role,
    Secret,
)

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{1,62}$"
Scope = Literal["read", "jobs", "full"]
"""What a token allows, from least to most: docs/security.md, "Token scopes"."""


class UserOut(AdminAgrees):
    id: str
    username: str
    display_name: str
    is_admin: bool  # role == "admin"
    role: Role = "user"
    created_at: datetime
    disabled: bool = False

    @property
    def principal(self) -> Principal:
        """The user as the ``actor`` of the requests they make."""
        return Principal(user_id=self.id, username=self.username, is_admin=self.is_admin,
                         role=self.role)


class CreateUser(Contract):
    actor: Principal
    username: str = Field(pattern=USERNAME_PATTERN)
    password: Secret = Field(min_length=8, max_length=1024)
    display_name: str = Field("", max_length=200)
    is_admin: bool = Field(False, description='Shorthand for role "admin" (older clients).')
    role: Role = "user"
    if_absent: bool = False  # the bootstrap admin: do nothing when the name is taken

    @model_validator(mode="before")
    @classmethod
    def _one_role(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        role = data.get("role", "user")
        if data.get("is_admin"):
            if role not in ("user", "admin"):
                raise ValueError(f"is_admin contradicts role {role!r}")
            role = "admin"
        return {**data, "role": role, "is_admin": role == "admin"}


class Authenticate(Contract):
    """Check a password; on success a new API token is issued for the user."""

    username: str = Field(min_length=1, max_length=200)
    password: Secret = Field(min_length=1, max_length=1024)
    token_label: str = Field("login", max_length=100)
    client_ip: str = Field("", max_length=64)  # where the sign-in came from, for the audit

    @field_validator("username")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        """No user name holds a NUL (PostgreSQL text cannot store one): refused as bad input
        instead of failing in the database."""
        if "\x00" in value:
            raise ValueError("a user name holds no NUL character")
        return value


class TokenIssued(Contract):
    token: Secret = Field(description="Send as `Authorization: Bearer <token>`.")
    user: UserOut


class TokenHolder(UserOut):
    """The user behind a live token, with what the token allows (the portal checks the
    scope against the request: docs/security.md, "Token scopes")."""

    token_id: str
    scope: Scope
    expires_at: datetime


class ResolveToken(Contract):
    token: Secret = Field(max_length=200)


class RevokeToken(Contract):
    token: Secret = Field(max_length=200)


class ListUsers(Contract):
    actor: Principal
    limit: int = Field(100, ge=1, le=1000, description="Users per page.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Users to skip.")


class UserList(Contract):
    users: list[UserOut]
    total: int


class Empty(Contract):
    pass


class ChangePassword(Contract):
    actor: Principal
    current_password: Secret = Field(min_length=1, max_length=1024)
    new_password: Secret = Field(min_length=8, max_length=1024)


class ResetPassword(Contract):
    actor: Principal
    username: str = Field(pattern=USERNAME_PATTERN)
    new_password: Secret = Field(min_length=8, max_length=1024)


class SetDisabled(Contract):
    actor: Principal
    username: str = Field(pattern=USERNAME_PATTERN)
    disabled: bool


class SetRole(Contract):
    actor: Principal
    username: str = Field(min_length=1, max_length=100)
    role: Role


class UserRoleChanged(Contract):
    """Data of ``modelport.user.role_changed``."""

    TYPE: ClassVar[str] = "modelport.user.role_changed"
    user_id: str
    username: str
    role: Role
    previous: Role
