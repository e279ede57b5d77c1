"""The base every message contract derives from."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, SecretStr

Secret = Annotated[
    SecretStr, PlainSerializer(lambda s: s.get_secret_value(), return_type=str, when_used="json")
]
"""A secret that hides in repr and logs but travels in JSON messages between services."""


class Contract(BaseModel):
    """A frozen message body that rejects unknown fields and names its schema version.

    Bump ``v`` (and keep the old reader) when a field changes meaning or becomes required.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1


class Principal(Contract):
    """Who asks: the caller a handler authorises against. ``system`` is the platform itself."""

    user_id: str | None = None
    username: str = "system"
    is_admin: bool = False
    system: bool = False
    client_ip: str = Field("", max_length=64)  # where the request came from (the audit's)

    SYSTEM: ClassVar[Principal]


Principal.SYSTEM = Principal(system=True, is_admin=True)
