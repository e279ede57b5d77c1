"""Bodies the REST API reads and writes: users and logins.

The shapes that carry a contract's fields are derived from it (:mod:`portal_svc.api.public`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from common.contracts.users import (
    Authenticate,
    CreateUser,
    ListUsers,
    SetRole,
    TokenIssued,
    UserList,
    UserOut,
)
from portal_svc.api.public import public


class ApiModel(BaseModel):
    """Request bodies reject unknown fields, so a typo is an error rather than ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Reply(BaseModel):
    """A response body, read from a contract by attribute (its ``v`` is left behind)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    @classmethod
    def of(cls, contract: object) -> Any:
        return cls.model_validate(contract)


# The login names no token label nor address: the portal sets both itself.
LoginRequest = public(Authenticate, ApiModel, name="LoginRequest",
                      drop={"token_label", "client_ip"})
User = public(UserOut, Reply)
# The token is handed over in the clear here, once: a plain string, not a write-only secret.
LoginResponse = public(TokenIssued, Reply, name="LoginResponse", retype={"token": str})
# ``if_absent`` is the bootstrap admin's, not the API's.
CreateUserRequest = public(CreateUser, ApiModel, name="CreateUserRequest", drop={"if_absent"})
ListUsersQuery = public(ListUsers, ApiModel, name="ListUsersQuery")
UserPage = public(UserList, Reply, name="UserPage")
SetRoleRequest = public(SetRole, ApiModel, name="SetRoleRequest", drop={"username"})
