"""The public REST API under ``/api/v1``: thin views over the backend's RPC methods."""

from __future__ import annotations

from portal_svc.api import auth, docs, users
from portal_svc.openapi import Operation

OPERATIONS: tuple[Operation, ...] = (*auth.routes, *users.routes, *docs.routes)
"""Every API operation, in the order the OpenAPI document lists them."""
