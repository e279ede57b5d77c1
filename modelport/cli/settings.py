"""What the CLI reads from the environment (``MODELPORT_*``, like the services)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CliSettings(BaseSettings):
    """Broker and timeouts for CLI commands that talk to the platform over AMQP."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_", extra="ignore")

    amqp_url: SecretStr = Field(
        SecretStr("amqp://guest:guest@127.0.0.1:5672/"), description="RabbitMQ URL."
    )
    rpc_timeout_s: float = Field(10.0, gt=0, description="How long a call waits for a reply.")
    connect_deadline_s: float = Field(10.0, gt=0, description="How long to retry the broker.")


def masked_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
