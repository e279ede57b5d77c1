"""backend_svc's settings (``MODELPORT_*``)."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator

from common.contracts.groups import GROUP_PATTERN
from common.settings import JobDefaults, ServiceSettings


class BackendSettings(ServiceSettings, JobDefaults):
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
    api_token_default_days: int = Field(
        30, ge=1, description="Lifetime of a personal API token made without an expiry.")
    api_token_max_days: int = Field(
        365, ge=1, description="Longest lifetime a personal API token may ask for; more is "
        "400 expiry_too_long.")
    login_lockout_after: int = Field(
        5, ge=1, description="Wrong passwords in a row after which an account is locked."
    )
    login_lockout_base_s: float = Field(
        30.0, gt=0, description="First lockout; each further failure after it doubles it."
    )
    login_lockout_max_s: float = Field(900.0, gt=0, description="Longest lockout.")
    password_workers: int = Field(
        1, ge=1, le=64, description="Password hashes checked at once (argon2 is CPU and "
        "memory heavy; the rest wait, holding no database connection)."
    )
    password_queue: int = Field(
        4, ge=0, le=1000, description="Password checks that may wait for a worker; more are "
        "refused at once (429 signin_busy), so waiting sign-ins cannot fill the RPC prefetch."
    )
    status_port: int = Field(8091, ge=0, le=65535, description="/healthz and /readyz port.")
    lease_ttl_s: float = Field(
        30.0, gt=0, description="Lease of a scheduled or running job; renewed by reports."
    )
    scheduler_interval_s: float = Field(
        2.0, gt=0, description="Scheduler and reaper poll interval when nothing wakes them."
    )
    max_running_per_user: int = Field(
        8, ge=0, description="Default quota `running_jobs`: jobs of one user running at once; "
        "more wait in the queue (docs/quotas.md)."
    )
    max_queued_per_user: int = Field(
        100, ge=0, description="Default quota `queued_jobs`: jobs of one user waiting in the "
        "queue; one more is refused (429 quota_exceeded)."
    )
    max_cpu_hours_per_month: int = Field(
        1000, ge=0, description="Default quota `cpu_hours_month`: job CPU-hours one user may "
        "use per calendar month (UTC); a submit once they are used up is refused."
    )
    max_case_storage_mb: int = Field(
        10240, ge=0, description="Default quota `storage_bytes` (given in MiB): bytes of cases "
        "one user may own; an upload past it is refused."
    )
    default_time_limit_s: int = Field(
        4 * 3600, ge=1, description="Time limit of a job submitted without one."
    )
    max_time_limit_s: int = Field(
        24 * 3600, ge=1, description="Longest time limit a job may ask for; more is refused "
        "(422 time_limit_too_long)."
    )
    max_running_per_app: int = Field(32, ge=1, description="Running jobs of one app.")
    max_attempts: int = Field(3, ge=1, le=100, description="Attempts before a lost job fails.")
    restart_spacing_s: float = Field(
        1.0, ge=0, description="Least time between the restarts of two lost jobs (re-queued "
        "after a host or worker failure), and of two sessions restarted after a host or "
        "worker failure: they start one after another, not all at once. 0 turns pacing off."
    )
    progress_event_interval_s: float = Field(
        1.0, ge=0, description="Least time between two progress events of one job."
    )
    max_sessions_per_user: int = Field(
        3, ge=0, description="Default quota `sessions`: live data sessions one user may hold; "
        "one more is refused (429 quota_exceeded) until one stops."
    )
    session_lease_ttl_s: float = Field(
        30.0, gt=0, description="Lease of a started session; renewed by the worker's reports."
    )
    session_claim_timeout_s: float = Field(
        60.0, gt=0, description="A requested session no worker claims in this time fails "
        "(reason no_worker)."
    )
    oidc_create_users: bool = Field(
        False, description="Create a user at the first OpenID Connect sign-in of an identity "
        "no user is linked to; off: such a sign-in is refused (403 oidc_unknown_user)."
    )
    oidc_group_map: dict[str, str] = Field(
        default_factory=dict, description="JSON map: a value of the provider's group claim → "
        "the Modelport group it grants. At each sign-in the user's membership of every mapped "
        "group is set to what the claim says (missing groups are created); other groups are "
        "left alone."
    )

    @field_validator("oidc_group_map")
    @classmethod
    def _group_names(cls, mapping: dict[str, str]) -> dict[str, str]:
        bad = sorted(g for g in mapping.values() if not re.match(GROUP_PATTERN, g))
        if bad:
            raise ValueError(f"not valid group names: {bad} (pattern {GROUP_PATTERN})")
        return mapping
