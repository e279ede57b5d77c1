"""``/api/v1/audit`` and ``/api/v1/admin/hosts``: the audit log and the Docker hosts (admins;
the backend decides who may).

Audit filters match exactly (``actor_name``, ``action``, ``target``); ``since``/``until`` bound
the time (ISO 8601); a page's ``next_before`` passed as ``before`` gives the next page.
"""

from __future__ import annotations

from aiohttp import web

from common.contracts import admin as contracts
from common.contracts.methods import AdminMethods
from portal_svc.api.models import ApiModel, Reply
from portal_svc.api.public import public
from portal_svc.api.relay import relay
from portal_svc.openapi import ApiRoutes

routes = ApiRoutes(tags=("admin",))

AuditQuery = public(contracts.ListAudit, ApiModel, name="AuditQuery")
AuditPage = public(contracts.AuditPage, Reply, name="AuditPage")
Host = public(contracts.HostOut, Reply, name="Host")
HostList = public(contracts.HostList, Reply, name="HostList")


@routes.route(
    "GET", "/api/v1/audit", summary="A page of the audit log, newest first (admins)",
    query=AuditQuery, response=AuditPage, errors=(400, 403),
)
async def list_audit(request: web.Request) -> web.Response:
    return await relay(request, AdminMethods.AUDIT, AuditPage, query=AuditQuery)


@routes.route("GET", "/api/v1/admin/hosts",
              summary="Docker hosts with their load and drained state (admins)",
              response=HostList, errors=(403,))
async def list_hosts(request: web.Request) -> web.Response:
    return await relay(request, AdminMethods.HOSTS, HostList)


@routes.route("POST", "/api/v1/admin/hosts/{name}/drain",
              summary="Drain a host: no new work there, running work finishes (admins)",
              response=Host, errors=(403, 404))
async def drain_host(request: web.Request) -> web.Response:
    return await relay(request, AdminMethods.DRAIN_HOST, Host)


@routes.route("POST", "/api/v1/admin/hosts/{name}/return",
              summary="Return a drained host to service (admins)",
              response=Host, errors=(403, 404))
async def return_host(request: web.Request) -> web.Response:
    return await relay(request, AdminMethods.RETURN_HOST, Host)
