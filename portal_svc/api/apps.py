"""``/api/v1/apps``: encrypted app packages uploaded, listed, shown, activated and deleted;
who may use and publish each app. An app the caller may not use answers 404 everywhere."""

from __future__ import annotations

from aiohttp import web

from common.contracts.methods import RegistryMethods
from portal_svc import auth
from portal_svc.api.io import json_reply, read_query
from portal_svc.api.registry_models import (
    App,
    AppList,
    AppRightsReply,
    AppVersion,
    SetAppRightsRequest,
    UploadAppQuery,
)
from portal_svc.api.relay import relay, relay_cached
from portal_svc.files.stores import stores
from portal_svc.list_cache import APPS
from portal_svc.openapi import ApiRoutes

routes = ApiRoutes(tags=("apps",))


@routes.route("POST", "/api/v1/apps", summary="Upload an app package (publishers)",
              query=UploadAppQuery, response=AppVersion, status=201,
              errors=(400, 403, 404, 409, 413, 415), upload=True)
async def upload_app(request: web.Request) -> web.Response:
    """Send the `.mpapp` file (encrypted for `GET /api/v1/platform-key`) as the body or as
    the `file` field of a form. Every chunk is decrypted and authenticated and the archive
    inside is checked on the way to storage. 400 with the package error's code (e.g.
    `tampered_ciphertext`, `wrong_key`) or `runtime_unsatisfied` when no registered runtime
    meets its requirement, 403 for a caller who is neither publisher nor admin, or not a
    publisher of this app, 404 for an app they may not use, 409 `duplicate_version`, 413
    `too_large`, 503 `no_platform_key`; nothing is kept on any failure. A new app is
    created with its first version, and its uploader becomes its publisher."""
    caller = await auth.api_caller(request)
    query = read_query(request, UploadAppQuery)
    version = await stores(request).depot.publish_app(caller, request, activate=query.activate)
    return json_reply(AppVersion.of(version), status=201)


@routes.route("GET", "/api/v1/apps", summary="List the apps you may use, with their versions",
              response=AppList)
async def list_apps(request: web.Request) -> web.Response:
    """Kept by the portal between changes (docs/performance.md, "Read cache")."""
    return await relay_cached(request, APPS, RegistryMethods.LIST_APPS, AppList)


@routes.route("GET", "/api/v1/apps/{name}", summary="Show an app and its versions",
              response=App, errors=(404,))
async def get_app(request: web.Request) -> web.Response:
    return await relay(request, RegistryMethods.GET_APP, App)


@routes.route("POST", "/api/v1/apps/{name}/versions/{version}/activate",
              summary="Make a version the active one (the app's publishers)", response=App,
              errors=(400, 403, 404))
async def activate_app(request: web.Request) -> web.Response:
    """Also how to roll back: activate the earlier version."""
    return await relay(request, RegistryMethods.ACTIVATE_APP, App)


@routes.route("DELETE", "/api/v1/apps/{name}/versions/{version}",
              summary="Delete an app version (the app's publishers)", status=204,
              errors=(403, 404, 409))
async def delete_app_version(request: web.Request) -> web.Response:
    """409 `in_use` for the active version while others exist, or one sessions or jobs use."""
    caller = await auth.api_caller(request)
    name, version = request.match_info["name"], request.match_info["version"]
    await stores(request).depot.delete_app_version(caller, name, version)
    return web.Response(status=204)


@routes.route("GET", "/api/v1/apps/{name}/rights",
              summary="Which groups may use and publish an app (its publishers)",
              response=AppRightsReply, errors=(403, 404))
async def get_app_rights(request: web.Request) -> web.Response:
    """An empty `use`: every signed-in user may use the app. `owner` created it and
    publishes it without a group."""
    return await relay(request, RegistryMethods.GET_RIGHTS, AppRightsReply)


@routes.route("PUT", "/api/v1/apps/{name}/rights",
              summary="Set which groups may use and publish an app (its publishers)",
              request=SetAppRightsRequest, response=AppRightsReply,
              errors=(400, 403, 404, 413))
async def set_app_rights(request: web.Request) -> web.Response:
    """Replaces both lists. 404 `unknown_group` naming groups that do not exist (nothing is
    changed then). Members of a publish group need the publisher role to publish."""
    return await relay(request, RegistryMethods.SET_RIGHTS, AppRightsReply,
                       body=SetAppRightsRequest)
