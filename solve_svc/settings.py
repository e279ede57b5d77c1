"""solve_svc's settings (``MODELPORT_*``)."""

from __future__ import annotations

from pydantic import Field

from common.settings import ServiceSettings


class SolveSettings(ServiceSettings):
    """Settings of solve_svc: the shared ones plus its status port."""

    status_port: int = Field(8093, ge=0, le=65535, description="/healthz and /readyz port.")
