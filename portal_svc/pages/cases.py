"""The Cases page: list, upload (XHR with a progress bar), download, rename and delete.

Upload and download reuse the API's code (``CaseStore``, ``send_case``); the page signs in
with its session (and, for the upload, its CSRF token in the ``X-CSRF-Token`` header).
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from common.contracts.methods import CaseMethods, RegistryMethods
from portal_svc.api.io import json_reply
from portal_svc.api.registry_models import Case
from portal_svc.appkeys import BACKEND
from portal_svc.files.downloads import send_case
from portal_svc.files.stores import stores
from portal_svc.pages.site import flash_and_go, form_caller, page_caller, page_context, xhr_caller

routes = web.RouteTableDef()
CASES_PAGE = "/cases"


@routes.get(CASES_PAGE)
async def cases_page(request: web.Request) -> web.StreamResponse:
    caller = await page_caller(request)
    backend = request.app[BACKEND]
    page = await backend.call(CaseMethods.LIST, actor=caller.principal)
    apps = await backend.call(RegistryMethods.LIST_APPS, actor=caller.principal)
    context = await page_context(request, caller, "cases", cases=page.cases, total=page.total,
                                 apps=apps.apps)
    return aiohttp_jinja2.render_template("cases.html", request, context)


@routes.post("/cases/upload")
async def upload_case(request: web.Request) -> web.StreamResponse:
    """The Cases page's upload (XHR): the form's ``app`` and ``name`` fields, then ``file``."""
    caller = await xhr_caller(request)
    case = await stores(request).cases.upload(caller, request, app=request.query.get("app"))
    return json_reply(Case.of(case), status=201)


@routes.get("/cases/{case_id}/download")
async def download_case(request: web.Request) -> web.StreamResponse:
    caller = await page_caller(request)
    download = await stores(request).cases.download(caller, request.match_info["case_id"])
    return await send_case(request, download)


@routes.post("/cases/{case_id}/rename")
async def rename_case(request: web.Request) -> web.StreamResponse:
    caller, form = await form_caller(request)
    case = await request.app[BACKEND].call(
        CaseMethods.RENAME, actor=caller.principal, case_id=request.match_info["case_id"],
        name=form.get("name", "").strip())
    await flash_and_go(request, f"Renamed to {case.name}.", CASES_PAGE)


@routes.post("/cases/{case_id}/delete")
async def delete_case(request: web.Request) -> web.StreamResponse:
    caller, _ = await form_caller(request)
    await stores(request).cases.delete(caller, request.match_info["case_id"])
    await flash_and_go(request, "The case was deleted.", CASES_PAGE)
