"""Domain events: CloudEvents 1.0 envelopes and the data of each event type."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from common.contracts.base import Contract

SOURCE = "/modelport/backend"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 structured-mode JSON event. Routing key = ``type``."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: str = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str = SOURCE
    type: str
    subject: str | None = None
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = "application/json"
    dataschemaversion: int = 1
    data: dict[str, Any] = Field(default_factory=dict)


class UserCreated(Contract):
    TYPE: ClassVar[str] = "modelport.user.created"
    user_id: str
    username: str
    is_admin: bool
    role: str = "user"


class UserDisabled(Contract):
    """Data of ``modelport.user.disabled`` and ``modelport.user.enabled``."""

    DISABLED: ClassVar[str] = "modelport.user.disabled"
    ENABLED: ClassVar[str] = "modelport.user.enabled"
    user_id: str
    username: str
