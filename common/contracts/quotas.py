"""Contracts of the quotas family: per-user and per-group quotas, and usage per user and app.

A user's effective quota is their own override, else the most generous override of the groups
they belong to, else the platform's default (backend settings). Every quota is a whole number;
what each counts is said once in :data:`QUOTAS`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from common.contracts.base import Contract, Principal

QuotaName = Literal["queued_jobs", "running_jobs", "sessions", "cpu_hours_month",
                    "storage_bytes"]
QUOTAS: dict[str, str] = {
    "queued_jobs": "queued jobs",
    "running_jobs": "running jobs",
    "sessions": "concurrent sessions",
    "cpu_hours_month": "job CPU-hours this month",
    "storage_bytes": "case storage (bytes)",
}
"""Each quota's name and the words a refusal uses for it (``"queued jobs: 20 of 20"``)."""
QuotaKind = Literal["user", "group"]
Source = Literal["user", "group", "default"]


class QuotaValues(Contract):
    """One value per quota; None: not set here (a user or group inherits)."""

    queued_jobs: int | None = Field(None, ge=0, le=2**62, description="Jobs waiting in the "
                                    "queue at once; one more is refused.")
    running_jobs: int | None = Field(None, ge=0, le=2**62, description="Jobs running at once; "
                                     "more wait in the queue (not refused).")
    sessions: int | None = Field(None, ge=0, le=2**62, description="Live data sessions at "
                                 "once; one more is refused.")
    cpu_hours_month: int | None = Field(None, ge=0, le=2**62, description="Job CPU-hours per "
                                        "calendar month (UTC); a submit once they are used "
                                        "up is refused.")
    storage_bytes: int | None = Field(None, ge=0, le=2**62, description="Bytes of cases a "
                                      "user owns; an upload past it is refused.")


class QuotaLine(Contract):
    quota: QuotaName
    limit: int
    source: Source = Field(description="Where the limit comes from: the user's own override, "
                           "a group's (the most generous), or the default.")
    used: int = Field(description="What the user holds or used now (this month for CPU-hours, "
                      "rounded up).")


class QuotaTarget(Contract):
    actor: Principal
    kind: QuotaKind
    name: str = Field(min_length=1, max_length=100, description="Username or group name.")


class SetQuotas(Contract):
    """Replace the overrides of a user or group (a None value clears that override)."""

    actor: Principal
    kind: QuotaKind
    name: str = Field(min_length=1, max_length=100)
    values: QuotaValues


class QuotasOut(Contract):
    kind: QuotaKind
    name: str
    overrides: QuotaValues
    effective: list[QuotaLine] = Field(description="For a user: each quota in force and its "
                                       "use; empty for a group.")


class ListQuotas(Contract):
    actor: Principal


class QuotaOverview(Contract):
    defaults: QuotaValues
    overrides: list[QuotasOut] = Field(description="Every user and group with an override.")


class UsageQuery(Contract):
    actor: Principal
    start: datetime | None = Field(None, description="From (inclusive); default: the month's "
                                   "first day, UTC.")
    end: datetime | None = Field(None, description="To (exclusive); default: now.")


class UsageRow(Contract):
    user: str
    app: str
    session_hours: float = Field(description="Hours data sessions of the app were open "
                                 "(started to ended, clipped to the period).")
    job_cpu_seconds: float = Field(description="CPU seconds charged to jobs of the app: each "
                                   "attempt's run time times the cores it was given.")
    sessions: int
    jobs: int


class UsageReport(Contract):
    start: datetime
    end: datetime
    rows: list[UsageRow]
