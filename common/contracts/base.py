"""The base every message contract derives from."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, SecretStr, model_validator

Secret = Annotated[
    SecretStr, PlainSerializer(lambda s: s.get_secret_value(), return_type=str, when_used="json")
]
"""A secret that hides in repr and logs but travels in JSON messages between services."""

MAX_OFFSET = 2**31 - 1
"""The most rows a page may skip (a larger ``offset`` does not fit PostgreSQL's ``OFFSET``
parameter and would fail as an internal error)."""


class Contract(BaseModel):
    """A frozen message body that rejects unknown fields and names its schema version.

    Bump ``v`` (and keep the old reader) when a field changes meaning or becomes required.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1


Role = Literal["admin", "publisher", "user"]
"""A user's role (docs/security.md, "Rights"): admins may do anything; publishers may create
apps and publish those they have publish rights on; users use what they are allowed to."""
ROLES: tuple[Role, ...] = ("admin", "publisher", "user")


class AdminAgrees(Contract):
    """Base of a model with an ``is_admin`` flag and a ``role``: they are made to say the same
    when it is read (either one may be given; older senders set only the flag)."""

    @model_validator(mode="before")
    @classmethod
    def _agree(cls, data: Any) -> Any:
        if isinstance(data, dict) and (data.get("is_admin") or data.get("role") == "admin"):
            return {**data, "is_admin": True, "role": "admin"}
        return data


class Principal(AdminAgrees):
    """Who asks: the caller a handler authorises against. ``system`` is the platform itself."""

    user_id: str | None = None
    username: str = "system"
    is_admin: bool = False
    role: Role = "user"
    system: bool = False
    client_ip: str = Field("", max_length=64)  # where the request came from (the audit's)

    SYSTEM: ClassVar[Principal]

    @property
    def is_publisher(self) -> bool:
        """Whether the role may publish at all (admins and publishers; the platform)."""
        return self.system or self.role in ("admin", "publisher")


Principal.SYSTEM = Principal(system=True, is_admin=True)
