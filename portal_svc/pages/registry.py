"""The Apps and Runtimes pages, their upload endpoints (for XHR, with a progress bar) and the
buttons that activate a version or delete a runtime.

Uploads reuse the API's code (``Depot``); only sign-in differs: the page's session and its
CSRF token in the ``X-CSRF-Token`` header instead of a bearer token.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from common.contracts.methods import CaseMethods, RegistryMethods
from portal_svc.api.io import json_reply
from portal_svc.api.registry_models import AppVersion, Runtime
from portal_svc.appkeys import BACKEND
from portal_svc.files.stores import stores
from portal_svc.pages.site import (
    flash_and_go,
    form_caller,
    page_caller,
    page_context,
    xhr_caller,
)

routes = web.RouteTableDef()


@routes.get("/apps")
async def apps_page(request: web.Request) -> web.StreamResponse:
    caller = await page_caller(request)
    found = await request.app[BACKEND].call(RegistryMethods.LIST_APPS, actor=caller.principal)
    cases = await request.app[BACKEND].call(CaseMethods.LIST, actor=caller.principal, limit=1000)
    context = await page_context(request, caller, "apps", apps=found.apps, cases=cases.cases)
    return aiohttp_jinja2.render_template("apps.html", request, context)


@routes.post("/apps/upload")
async def upload_app(request: web.Request) -> web.StreamResponse:
    """The Apps page's upload (XHR); answers like ``POST /api/v1/apps``."""
    caller = await xhr_caller(request)
    version = await stores(request).depot.publish_app(caller, request)
    return json_reply(AppVersion.of(version), status=201)


@routes.post("/apps/{name}/versions/{version}/activate")
async def activate_app(request: web.Request) -> web.StreamResponse:
    caller, _ = await form_caller(request)
    name, version = request.match_info["name"], request.match_info["version"]
    await request.app[BACKEND].call(
        RegistryMethods.ACTIVATE_APP, actor=caller.principal, name=name, version=version)
    await flash_and_go(request, f"{name} {version} is now the active version.", "/apps")


@routes.get("/runtimes")
async def runtimes_page(request: web.Request) -> web.StreamResponse:
    caller = await page_caller(request)
    found = await request.app[BACKEND].call(RegistryMethods.LIST_RUNTIMES, actor=caller.principal)
    context = await page_context(request, caller, "runtimes", runtimes=found.runtimes)
    return aiohttp_jinja2.render_template("runtimes.html", request, context)


@routes.post("/runtimes/upload")
async def upload_runtime(request: web.Request) -> web.StreamResponse:
    """The Runtimes page's upload (XHR); answers like ``POST /api/v1/runtimes``."""
    caller = await xhr_caller(request)
    runtime = await stores(request).depot.publish_runtime(caller, request)
    return json_reply(Runtime.of(runtime), status=201)


@routes.post("/runtimes/{version}/delete")
async def delete_runtime(request: web.Request) -> web.StreamResponse:
    caller, _ = await form_caller(request)
    version = request.match_info["version"]
    await stores(request).depot.delete_runtime(caller, version)
    await flash_and_go(request, f"Runtime {version} was deleted.", "/runtimes")
