"""The public REST API under ``/api/v1``: thin views over the backend's RPC methods."""

from __future__ import annotations

from portal_svc.api import (
    admin,
    admin_quotas,
    apps,
    auth,
    cases,
    docs,
    groups,
    jobs,
    runtimes,
    sessions,
    tokens,
    users,
)
from portal_svc.openapi import Operation

OPERATIONS: tuple[Operation, ...] = (
    *auth.routes, *tokens.routes, *users.routes, *runtimes.routes, *apps.routes,
    *cases.routes, *groups.routes, *jobs.routes, *sessions.routes, *admin_quotas.routes,
    *docs.routes, *admin.routes,
)
"""Every API operation, in the order the OpenAPI document lists them."""
