"""The public REST API under ``/api/v1``: thin views over the backend's RPC methods."""

from __future__ import annotations

from portal_svc.api import (
    admin,
    apps,
    auth,
    cases,
    docs,
    groups,
    jobs,
    runtimes,
    sessions,
    users,
)
from portal_svc.openapi import Operation

OPERATIONS: tuple[Operation, ...] = (
    *auth.routes, *users.routes, *runtimes.routes, *apps.routes, *cases.routes, *groups.routes,
    *jobs.routes, *sessions.routes, *docs.routes, *admin.routes,
)
"""Every API operation, in the order the OpenAPI document lists them."""
