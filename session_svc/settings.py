"""session_svc's settings (``MODELPORT_*``)."""

from __future__ import annotations

from pydantic import Field

from common.settings import ServiceSettings


class SessionSettings(ServiceSettings):
    """Settings of session_svc: the shared ones plus its status port."""

    status_port: int = Field(8092, ge=0, le=65535, description="/healthz and /readyz port.")
