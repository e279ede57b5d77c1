"""Contracts of the admin family: the audit log and the Docker hosts (their load, drain)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from common.contracts.base import Contract, Principal

HOST_NAME_MAX = 100
AUDIT_PAGE_MAX = 200


class HostLoad(Contract):
    """One Docker host as a worker sees it, sent with every heartbeat."""

    name: str = Field(min_length=1, max_length=HOST_NAME_MAX)
    zone: str = Field("", max_length=100)
    healthy: bool
    slots: int = Field(ge=0)
    used_slots: int = Field(ge=0)
    memory_mb: int = Field(ge=0)
    used_memory_mb: int = Field(ge=0)


class HostOut(Contract):
    """A host as backend knows it: its drained state and the latest report of each worker on
    it (load figures are the largest any live worker reported)."""

    name: str
    zone: str
    drained: bool
    drained_by: str | None
    drained_at: datetime | None
    healthy: bool  # every live worker that reports it sees it healthy
    slots: int
    used_slots: int
    memory_mb: int
    used_memory_mb: int
    workers: list[str]  # the workers that reported it lately
    reported_at: datetime | None


class ListHosts(Contract):
    actor: Principal


class HostList(Contract):
    hosts: list[HostOut]


class HostRef(Contract):
    actor: Principal
    name: str = Field(min_length=1, max_length=HOST_NAME_MAX)


class AuditEntry(Contract):
    id: int
    at: datetime
    actor_id: str | None
    actor_name: str
    action: str
    target: str
    client_ip: str
    detail: dict[str, Any]


class ListAudit(Contract):
    """A page of the audit log, newest first; ``before`` is the cursor (an entry's id: the
    page holds older entries only). Filters match exactly; ``since``/``until`` bound ``at``."""

    actor: Principal
    actor_name: str | None = Field(None, max_length=200)
    action: str | None = Field(None, max_length=100)
    target: str | None = Field(None, max_length=200)
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = Field(None, ge=1)
    limit: int = Field(50, ge=1, le=AUDIT_PAGE_MAX)


class AuditPage(Contract):
    entries: list[AuditEntry]
    next_before: int | None  # pass as ``before`` for the next page; None: no more
