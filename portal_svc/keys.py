"""Typed keys for what the portal keeps on its aiohttp app and requests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from portal_svc.backend_client import BackendClient
from portal_svc.settings import PortalSettings

if TYPE_CHECKING:
    from portal_svc.openapi import Operation

SETTINGS = web.AppKey("settings", PortalSettings)
BACKEND = web.AppKey("backend", BackendClient)
OPERATIONS: web.AppKey[tuple[Operation, ...]] = web.AppKey("operations")
REQUEST_ID = web.RequestKey("request_id", str)  # the X-Request-ID of this request
