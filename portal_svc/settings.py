"""portal_svc's settings (``MODELPORT_*``)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from common.settings import ServiceSettings

FERNET_KEY_BYTES = 32


class PortalSettings(ServiceSettings):
    """Where the portal listens and how it keeps browser sessions."""

    host: str = Field("127.0.0.1", description="Bind address of the portal's HTTP server.")
    port: int = Field(8080, ge=0, le=65535, description="HTTP port; 0 = any free port.")
    cookie_secret: SecretStr = Field(
        SecretStr(""),
        description=(
            "Key that encrypts session cookies: 32 bytes in url-safe base64 (a Fernet key). "
            "Empty = a random key per start (sessions do not survive a restart or span replicas)."
        ),
    )
    max_body_kb: int = Field(
        1024, ge=1, le=1024 * 1024, description="Largest request body read in memory; 413 beyond."
    )
    public_url: str = Field(
        "", description="URL browsers use to reach the portal; https turns on Secure cookies."
    )
    session_max_age_s: int = Field(
        8 * 3600, ge=60, description="Lifetime of a browser session cookie, in seconds."
    )
    metrics_token: SecretStr = Field(
        SecretStr(""), description="When set, GET /metrics needs 'Authorization: Bearer "
        "<token>'; empty = /metrics is open to whoever reaches the port.",
    )

    login_ip_limit: int = Field(
        30, ge=1, description="Sign-in attempts one client address may make per window."
    )
    login_ip_window_s: float = Field(60.0, gt=0, description="The per-address sign-in window.")
    stream_recheck_s: float = Field(
        30.0, gt=0, description="How often open live streams (SSE, session WebSockets) have "
        "their token re-checked with backend: the safety net behind revocation events.")
    list_cache_ttl_s: float = Field(
        10.0, ge=0, le=300, description="How long the apps and cases lists may be answered "
        "from this portal's cache; events and this portal's own writes drop them sooner. The "
        "bound on staleness should an event be lost. 0 = ask the backend every time.")
    jobs_cache_ttl_s: float = Field(
        2.0, ge=0, le=60, description="How long a jobs list (GET /api/v1/jobs, with queue "
        "positions) may be answered from this portal's cache; every job event and this "
        "portal's own job writes drop them sooner. The bound on staleness for what no event "
        "announces (a waiting job falling due, a job scheduled but not yet started). "
        "0 = ask the backend every time.")
    list_cache_entries: int = Field(
        2_000, ge=1, description="Most apps and cases lists kept (per user, role and "
        "query), and as many jobs lists.")
    trusted_proxies: list[str] = Field(
        default_factory=list, description="Addresses or networks (CIDR) of reverse proxies "
        "whose X-Forwarded-Proto is believed: 'https' from one of them marks the session "
        "cookie Secure and sends HSTS. JSON list, e.g. [\"10.0.0.0/8\", \"127.0.0.1\"].")
    hsts_max_age_s: int = Field(
        31_536_000, ge=0, description="max-age of Strict-Transport-Security, sent on replies "
        "to requests that came over https.")

    oidc_issuer: str = Field(
        "", description="OpenID Connect provider's issuer URL (https; http only on loopback); "
        "its discovery document is read from <issuer>/.well-known/openid-configuration. "
        "Empty = no single sign-on."
    )
    oidc_client_id: str = Field("", description="The portal's client id at the provider.")
    oidc_client_secret: SecretStr = Field(
        SecretStr(""), description="The portal's client secret at the provider."
    )
    oidc_scopes: str = Field("openid profile email", description="Scopes asked for (must "
                             "hold openid; add the one that releases the group claim).")
    oidc_group_claim: str = Field("groups", description="ID-token claim holding the user's "
                                  "groups (mapped to Modelport groups by backend).")
    oidc_provider_name: str = Field("single sign-on", max_length=60,
                                    description="Shown on the login page: Sign in with <name>.")
    oidc_cache_s: float = Field(3600.0, gt=0, description="How long the provider's discovery "
                                "document and keys are cached.")

    @field_validator("cookie_secret")
    @classmethod
    def _fernet_key(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if not raw:
            return value
        try:
            decoded = base64.urlsafe_b64decode(raw.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise ValueError("must be url-safe base64") from None
        if len(decoded) != FERNET_KEY_BYTES:
            raise ValueError(f"must decode to {FERNET_KEY_BYTES} bytes, got {len(decoded)}")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad entry
        return value

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer_url(cls, value: str) -> str:
        if not value:
            return value
        url = urlsplit(value)
        loopback = url.hostname in ("127.0.0.1", "::1", "localhost")
        if url.scheme != "https" and not (url.scheme == "http" and loopback):
            raise ValueError("must be an https URL (http only on a loopback address)")
        return value

    @model_validator(mode="after")
    def _oidc_complete(self) -> PortalSettings:
        if self.oidc_issuer and not self.oidc_client_id:
            raise ValueError("MODELPORT_OIDC_CLIENT_ID is required with MODELPORT_OIDC_ISSUER")
        if self.oidc_issuer and "openid" not in self.oidc_scopes.split():
            raise ValueError("MODELPORT_OIDC_SCOPES must hold openid")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @property
    def secure_cookies(self) -> bool:
        """True when browsers reach the portal over https."""
        return self.public_url.startswith("https://")
