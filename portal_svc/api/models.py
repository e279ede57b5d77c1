"""Bodies the REST API reads and writes (the public shapes, apart from the RPC contracts)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from common.contracts.users import USERNAME_PATTERN, UserOut


class ApiModel(BaseModel):
    """Request bodies reject unknown fields, so a typo is an error rather than ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LoginRequest(ApiModel):
    username: str = Field(min_length=1, max_length=200)
    password: SecretStr = Field(min_length=1, max_length=1024)


class User(ApiModel):
    id: str
    username: str
    display_name: str
    is_admin: bool
    created_at: datetime

    @classmethod
    def from_contract(cls, user: UserOut) -> User:
        return cls(
            id=user.id, username=user.username, display_name=user.display_name,
            is_admin=user.is_admin, created_at=user.created_at,
        )


class LoginResponse(ApiModel):
    token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    user: User


class CreateUserRequest(ApiModel):
    username: str = Field(pattern=USERNAME_PATTERN)
    password: SecretStr = Field(min_length=8, max_length=1024)
    display_name: str = Field("", max_length=200)
    is_admin: bool = False


class ListUsersQuery(ApiModel):
    limit: int = Field(100, ge=1, le=1000, description="Users per page.")
    offset: int = Field(0, ge=0, description="Users to skip.")


class UserPage(ApiModel):
    users: list[User]
    total: int
