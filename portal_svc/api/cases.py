"""``/api/v1/cases``: upload, list, show, download, rename, share, delete and diff cases."""

from __future__ import annotations

from aiohttp import web

from common.contracts.methods import CaseMethods
from portal_svc import auth
from portal_svc.api.io import json_reply, read_query
from portal_svc.api.registry_models import (
    Case,
    CaseDiff,
    CasePage,
    ListCasesQuery,
    RenameCaseRequest,
    ShareCaseRequest,
    UploadCaseQuery,
)
from portal_svc.api.relay import call_as_caller, relay, relay_cached
from portal_svc.files.downloads import send_case
from portal_svc.files.stores import stores
from portal_svc.list_cache import CASES
from portal_svc.openapi import ApiRoutes

routes = ApiRoutes(tags=("cases",))
CASE = "/api/v1/cases/{case_id}"


@routes.route("POST", "/api/v1/cases", summary="Upload a case of an app", query=UploadCaseQuery,
              response=Case, status=201, errors=(400, 404, 413, 415), upload=True)
async def upload_case(request: web.Request) -> web.Response:
    """The file must be a valid case of `app`: 400 `wrong_app` for another app's case, 400
    with the case reader's code (e.g. `not_a_case`) for anything else; 404 for an unknown
    app. Nothing is kept on any failure."""
    caller = await auth.api_caller(request)
    query = read_query(request, UploadCaseQuery)
    case = await stores(request).cases.upload(caller, request, app=query.app, name=query.name)
    return json_reply(Case.of(case), status=201)


@routes.route("GET", "/api/v1/cases", summary="List your cases and those shared with you",
              query=ListCasesQuery, response=CasePage, errors=(400,))
async def list_cases(request: web.Request) -> web.Response:
    """Kept by the portal between changes (docs/performance.md, "Read cache")."""
    return await relay_cached(request, CASES, CaseMethods.LIST, CasePage, query=ListCasesQuery)


@routes.route("GET", CASE, summary="Show a case's metadata", response=Case, errors=(404,))
async def get_case(request: web.Request) -> web.Response:
    """404 for a case that does not exist or that you may not see."""
    found = await call_as_caller(request, CaseMethods.GET)
    return json_reply(Case.of(found.case))


@routes.route("GET", CASE + "/download", summary="Download a case's file", errors=(404,),
              download=True)
async def download_case(request: web.Request) -> web.StreamResponse:
    """Streamed with its Content-Length and its sha256 in `X-Checksum-SHA256`; verified
    against that checksum on the way (the transfer is cut short if the stored bytes changed)."""
    caller = await auth.api_caller(request)
    download = await stores(request).cases.download(caller, request.match_info["case_id"])
    return await send_case(request, download)


@routes.route("PATCH", CASE, summary="Rename a case", request=RenameCaseRequest, response=Case,
              errors=(400, 403, 404, 413))
async def rename_case(request: web.Request) -> web.Response:
    return await relay(request, CaseMethods.RENAME, Case, body=RenameCaseRequest)


@routes.route("POST", CASE + "/share", summary="Share a case read-only with a group, or stop",
              request=ShareCaseRequest, response=Case, errors=(400, 403, 404, 413))
async def share_case(request: web.Request) -> web.Response:
    return await relay(request, CaseMethods.SHARE, Case, body=ShareCaseRequest)


@routes.route("DELETE", CASE, summary="Delete a case", status=204, errors=(403, 404, 409))
async def delete_case(request: web.Request) -> web.Response:
    caller = await auth.api_caller(request)
    await stores(request).cases.delete(caller, request.match_info["case_id"])
    return web.Response(status=204)


@routes.route("GET", CASE + "/diff/{other_id}", summary="What changed from one case to another",
              response=CaseDiff, errors=(400, 404))
async def diff_cases(request: web.Request) -> web.Response:
    """Both cases must belong to the same app (else 400 `wrong_app`). Lists each identifier
    that was added, removed or changed, with the old and new value of every changed element."""
    caller = await auth.api_caller(request)
    diff = await stores(request).cases.diff(
        caller, request.match_info["case_id"], request.match_info["other_id"]
    )
    return json_reply(CaseDiff.model_validate(diff))
