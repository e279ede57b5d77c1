"""Typed keys for what the portal keeps on its aiohttp app and requests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from portal_svc.backend_client import BackendClient
from portal_svc.settings import PortalSettings

if TYPE_CHECKING:
    from portal_svc.files.stores import Stores
    from portal_svc.openapi import Operation

SETTINGS = web.AppKey("settings", PortalSettings)
BACKEND = web.AppKey("backend", BackendClient)
OPERATIONS: web.AppKey[tuple[Operation, ...]] = web.AppKey("operations")
STORES: web.AppKey[Stores] = web.AppKey("stores")  # absent when the app has no S3 storage
JSON_ERRORS = web.RequestKey("json_errors", bool)  # a page view that answers errors in JSON
REQUEST_ID = web.RequestKey("request_id", str)  # the X-Request-ID of this request
