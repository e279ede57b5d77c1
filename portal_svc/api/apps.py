"""``/api/v1/apps``: encrypted app packages uploaded, listed, shown, activated and deleted."""

from __future__ import annotations

from aiohttp import web

from portal_svc import auth
from portal_svc.api.io import json_reply, read_query
from portal_svc.api.registry_models import App, AppList, AppVersion, UploadAppQuery
from portal_svc.appkeys import BACKEND
from portal_svc.files.stores import stores
from portal_svc.openapi import ApiRoutes

routes = ApiRoutes(tags=("apps",))


@routes.route("POST", "/api/v1/apps", summary="Upload an app package (admins)",
              query=UploadAppQuery, response=AppVersion, status=201,
              errors=(400, 403, 409, 413, 415), upload=True)
async def upload_app(request: web.Request) -> web.Response:
    """Send the `.mpapp` file (encrypted for `GET /api/v1/platform-key`) as the body or as
    the `file` field of a form. Every chunk is decrypted and authenticated and the archive
    inside is checked on the way to storage. 400 with the package error's code (e.g.
    `tampered_ciphertext`, `wrong_key`) or `runtime_unsatisfied` when no registered runtime
    meets its requirement, 409 `duplicate_version`, 413 `too_large`, 503 `no_platform_key`;
    nothing is kept on any failure."""
    caller = await auth.api_caller(request)
    query = read_query(request, UploadAppQuery)
    version = await stores(request).depot.publish_app(caller, request, activate=query.activate)
    return json_reply(AppVersion.of(version), status=201)


@routes.route("GET", "/api/v1/apps", summary="List apps with their versions", response=AppList)
async def list_apps(request: web.Request) -> web.Response:
    caller = await auth.api_caller(request)
    return json_reply(AppList.of(await request.app[BACKEND].list_apps(caller.principal)))


@routes.route("GET", "/api/v1/apps/{name}", summary="Show an app and its versions",
              response=App, errors=(404,))
async def get_app(request: web.Request) -> web.Response:
    caller = await auth.api_caller(request)
    found = await request.app[BACKEND].get_app(caller.principal, request.match_info["name"])
    return json_reply(App.of(found))


@routes.route("POST", "/api/v1/apps/{name}/versions/{version}/activate",
              summary="Make a version the active one (admins)", response=App,
              errors=(400, 403, 404))
async def activate_app(request: web.Request) -> web.Response:
    """Also how to roll back: activate the earlier version."""
    caller = await auth.api_caller(request)
    name, version = request.match_info["name"], request.match_info["version"]
    found = await request.app[BACKEND].activate_app(caller.principal, name, version)
    return json_reply(App.of(found))


@routes.route("DELETE", "/api/v1/apps/{name}/versions/{version}",
              summary="Delete an app version (admins)", status=204, errors=(403, 404, 409))
async def delete_app_version(request: web.Request) -> web.Response:
    """409 `in_use` for the active version while others exist, or one sessions or jobs use."""
    caller = await auth.api_caller(request)
    name, version = request.match_info["name"], request.match_info["version"]
    await stores(request).depot.delete_app_version(caller, name, version)
    return web.Response(status=204)
