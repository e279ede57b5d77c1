"""Settings of the Docker host pool: ``MODELPORT_DOCKER_*``.

``MODELPORT_DOCKER_HOSTS`` is a JSON list of hosts, e.g.
``[{"name": "a", "url": "tcp://10.0.0.5:2376", "tls_ca": "/etc/mp/ca.pem",
"tls_cert": "/etc/mp/cert.pem", "tls_key": "/etc/mp/key.pem", "slots": 8, "memory_mb": 32768}]``.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_SOCKET = "unix:///var/run/docker.sock"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class HostConfig(BaseModel):
    """One Docker engine and what it may run at once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Short unique name: lowercase letters, digits, '-'.")
    url: str = Field(LOCAL_SOCKET, description="unix:///path.sock or tcp://host:port.")
    tls_ca: str = Field("", description="CA bundle that signed the engine's certificate.")
    tls_cert: str = Field("", description="Client certificate (PEM) for TLS.")
    tls_key: str = Field("", description="Client key (PEM) for TLS.")
    slots: int = Field(4, ge=0, description="Containers (jobs + sessions) run at once.")
    memory_mb: int = Field(8192, ge=0, description="Memory that container limits may add to.")
    zone: str = Field("default", description="Availability zone (lowercase letters, digits, "
                      "'-'); placement spreads work over zones.")
    drained: bool = Field(False, description="Start drained: no new work placed here "
                          "(HostPool.drain/resume change it while running).")

    @field_validator("name", "zone")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("lowercase letters, digits and '-', at most 63 characters")
        return value

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("unix://", "tcp://", "http://", "https://")):
            raise ValueError("must start with unix://, tcp://, http:// or https://")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> HostConfig:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together")
        return self

    @property
    def uses_tls(self) -> bool:
        return bool(self.tls_ca or self.tls_cert)


class DockerSettings(BaseSettings):
    """The host pool, its health checks and the warm pool."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_DOCKER_", extra="ignore")

    hosts: list[HostConfig] = Field(
        default_factory=lambda: [HostConfig(name="local")],
        description="JSON list of hosts; default: the local socket with 4 slots.",
    )
    service: str = Field("modelport", min_length=1, description="Value of the service label "
                         "on our containers; a restart sweeps only its own service's.")
    health_interval_s: float = Field(10.0, gt=0, description="Seconds between pings.")
    ping_timeout_s: float = Field(3.0, gt=0, description="A slower ping marks a host down.")
    warm_per_runtime: int = Field(0, ge=0, le=64, description="Idle containers kept per "
                                  "runtime and host; 0 turns the warm pool off.")

    @field_validator("hosts")
    @classmethod
    def _unique(cls, hosts: list[HostConfig]) -> list[HostConfig]:
        names = [h.name for h in hosts]
        if len(set(names)) != len(names):
            raise ValueError("host names must be unique")
        if not hosts:
            raise ValueError("at least one host")
        return hosts
