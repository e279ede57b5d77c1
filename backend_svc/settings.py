"""backend_svc's settings (``MODELPORT_*``)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from common.settings import ServiceSettings


class BackendSettings(ServiceSettings):
    database_url: SecretStr = Field(
        SecretStr("postgresql://postgres@127.0.0.1:5432/modelport"),
        description="PostgreSQL DSN; the database is created when missing.",
    )
    db_pool_max: int = Field(10, ge=1, le=200, description="Connections in the pool.")
    admin_user: str = Field("", description="Bootstrap admin created at first start when set.")
    admin_password: SecretStr = Field(SecretStr(""), description="Bootstrap admin's password.")
    outbox_batch: int = Field(100, ge=1, le=10_000, description="Events the relay sends at once.")
    outbox_poll_s: float = Field(
        1.0, gt=0, description="Relay's poll interval when no NOTIFY arrives."
    )
    token_ttl_h: int = Field(24 * 7, ge=1, description="Lifetime of a login token, in hours.")
    status_port: int = Field(8091, ge=0, le=65535, description="/healthz and /readyz port.")
