"""``/api/v1/platform-key`` and ``/api/v1/runtimes``: the platform's public key, and signed
runtime packages uploaded, listed, shown and deleted."""

from __future__ import annotations

from aiohttp import web

from common.contracts.methods import RegistryMethods
from portal_svc import auth
from portal_svc.api.io import json_reply
from portal_svc.api.registry_models import PlatformKey, Runtime, RuntimeList
from portal_svc.api.relay import relay
from portal_svc.files.stores import stores
from portal_svc.openapi import ApiRoutes

routes = ApiRoutes(tags=("runtimes",))
UPLOAD_ERRORS = (400, 403, 409, 413, 415)


@routes.route("GET", "/api/v1/platform-key", summary="The platform's public key (encrypt apps "
              "for it)", response=PlatformKey, auth=False)
async def platform_key(request: web.Request) -> web.Response:
    """503 ``no_platform_key`` when the platform has no key configured."""
    key = stores(request).keys.require_platform_key()
    return json_reply(PlatformKey.of(key.public_key.to_json()))


@routes.route("POST", "/api/v1/runtimes", summary="Upload a signed runtime package (admins)",
              response=Runtime, status=201, errors=UPLOAD_ERRORS, upload=True)
async def upload_runtime(request: web.Request) -> web.Response:
    """Send the `.mprt` file as the body (application/octet-stream) or as the `file` field
    of a form. It is streamed to storage and verified on the way: signature by a trusted key,
    manifest, size and sha256 of the image. 400 with the package error's code (e.g.
    `untrusted_key`, `tampered_member`, `truncated`), 409 `duplicate_version`, 413
    `too_large`; nothing is kept on any failure."""
    caller = await auth.api_caller(request)
    runtime = await stores(request).depot.publish_runtime(caller, request)
    return json_reply(Runtime.of(runtime), status=201)


@routes.route("GET", "/api/v1/runtimes", summary="List runtimes", response=RuntimeList)
async def list_runtimes(request: web.Request) -> web.Response:
    return await relay(request, RegistryMethods.LIST_RUNTIMES, RuntimeList)


@routes.route("GET", "/api/v1/runtimes/{version}", summary="Show a runtime", response=Runtime,
              errors=(404,))
async def get_runtime(request: web.Request) -> web.Response:
    return await relay(request, RegistryMethods.GET_RUNTIME, Runtime)


@routes.route("DELETE", "/api/v1/runtimes/{version}", summary="Delete a runtime (admins)",
              status=204, errors=(403, 404, 409))
async def delete_runtime(request: web.Request) -> web.Response:
    """409 `in_use` while an app version needs it."""
    caller = await auth.api_caller(request)
    await stores(request).depot.delete_runtime(caller, request.match_info["version"])
    return web.Response(status=204)
