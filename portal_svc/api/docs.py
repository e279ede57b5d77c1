"""``/api/v1/openapi.json``: the OpenAPI 3.1 document of every installed API operation."""

from __future__ import annotations

from aiohttp import web

from portal_svc.appkeys import OPERATIONS, SETTINGS
from portal_svc.openapi import ApiRoutes, openapi_document

API_TITLE = "Modelport API"
API_VERSION = "1.0.0"
routes = ApiRoutes(tags=("meta",))


@routes.route("GET", "/api/v1/openapi.json", summary="This API's OpenAPI document", auth=False)
async def openapi(request: web.Request) -> web.Response:
    server = request.app[SETTINGS].public_url or f"{request.scheme}://{request.host}"
    operations = request.app[OPERATIONS]
    document = openapi_document(operations, title=API_TITLE, version=API_VERSION, server_url=server)
    return web.json_response(document)
