"""Settings shared by every service, read from ``MODELPORT_*`` environment variables.

Each service subclasses :class:`ServiceSettings` and adds its own fields. A bad environment
fails at start with pydantic's message naming the fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Connection and runtime settings common to all four services."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_", extra="ignore")

    amqp_url: SecretStr = Field(
        SecretStr("amqp://guest:guest@127.0.0.1:5672/"),
        description="RabbitMQ URL, including the vhost.",
    )
    amqp_prefetch: int = Field(16, ge=1, le=1000, description="Unacked messages per consumer.")
    rpc_timeout_s: float = Field(10.0, gt=0, description="How long an RPC call waits for a reply.")
    connect_deadline_s: float = Field(
        60.0, gt=0, description="How long start-up retries reaching the broker/database/S3."
    )
    shutdown_grace_s: float = Field(
        20.0, ge=0, description="How long in-flight work may run after SIGTERM."
    )
    log_format: Literal["json", "console", "auto"] = Field(
        "auto", description="json in production, console for a terminal; auto picks by tty."
    )
    log_level: str = Field("info", description="Minimum log level.")
    status_host: str = Field("127.0.0.1", description="Bind address of the status server.")
    status_port: int = Field(0, ge=0, le=65535, description="/healthz and /readyz; 0 = any free.")
    instance_id: str = Field("", description="Name of this replica in logs and events.")
    broker_roles: dict[str, str] | None = Field(
        None, description="JSON map of broker user → role (portal, backend, session_worker, "
        "solve_worker) used to check who may call each RPC method (docs/security.md). Unset: "
        "the single-user development set-up, where callers are not checked."
    )

    @field_validator("broker_roles")
    @classmethod
    def _known_roles(cls, roles: dict[str, str] | None) -> dict[str, str] | None:
        from common.contracts.method import ROLES

        unknown = sorted({r for r in (roles or {}).values() if r not in ROLES})
        if unknown:
            raise ValueError(f"unknown roles {unknown}; known: {', '.join(ROLES)}")
        return roles


class JobDefaults(BaseSettings):
    """Job facts backend and the solve workers must agree on, declared once for both."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_", extra="ignore")

    default_memory_mb: int = Field(
        2048, ge=64, description="Memory limit of a job that names none (backend), and of the "
        "solve workers' warm containers: a job asking another limit gets a fresh container, so "
        "jobs that name no memory use the warm pool."
    )
    job_cpus: float = Field(
        1.0, gt=0, description="CPUs a job container may use (solve); the cores each job's "
        "CPU time is charged for (backend's usage and CPU-hour quota)."
    )


class S3Settings(BaseSettings):
    """Where blobs live. An empty endpoint means AWS's default resolution."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_S3_", extra="ignore")

    endpoint_url: str = Field("", description="S3 endpoint, e.g. http://127.0.0.1:8333.")
    bucket: str = Field("modelport", min_length=3, description="Bucket, created at start-up.")
    region: str = Field("us-east-1", description="Region name sent to S3.")
    access_key: SecretStr = Field(SecretStr("modelport"), description="Access key id.")
    secret_key: SecretStr = Field(SecretStr("modelport"), description="Secret access key.")
    part_size_mb: int = Field(8, ge=5, le=512, description="Multipart upload part size.")


class PackageSettings(BaseSettings):
    """Keys and size limits of runtime, app and case packages (``MODELPORT_*``)."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_", extra="ignore")

    platform_key_file: str = Field(
        "", description="PEM file of the platform's X25519 key (decrypts apps). Required by "
        "the portal for app uploads and by the services that load apps into containers."
    )
    trusted_keys: str = Field(
        "", description="A file or folder of publisher public keys (*.pub) whose runtime "
        "signatures are accepted. Empty: no runtime upload is accepted."
    )
    max_runtime_mb: int = Field(4096, ge=1, description="Largest runtime package accepted.")
    max_app_mb: int = Field(512, ge=1, description="Largest app package accepted.")
    max_case_mb: int = Field(512, ge=1, description="Largest case file accepted.")
