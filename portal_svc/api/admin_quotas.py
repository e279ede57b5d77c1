"""``/api/v1/admin/quotas`` and ``/api/v1/admin/usage``: quotas of users and groups, and usage
per user and app (admins; the backend refuses everyone else with 403)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import ConfigDict, Field

from common.contracts import quotas as contracts
from common.contracts.methods import QuotaMethods
from portal_svc.api.io import json_reply, read_json, read_query
from portal_svc.api.models import ApiModel, Reply
from portal_svc.api.public import public
from portal_svc.api.relay import call_as_caller
from portal_svc.openapi import ApiRoutes

routes = ApiRoutes(tags=("admin",))
TARGET = "/api/v1/admin/quotas/{kind}/{name}"
_KINDS = {"users": "user", "groups": "group"}

# The replies first: their nested QuotaValues becomes the reply model of that name.
Quotas = public(contracts.QuotasOut, Reply, name="Quotas")
QuotaOverview = public(contracts.QuotaOverview, Reply, name="QuotaOverview")
UsageReport = public(contracts.UsageReport, Reply, name="UsageReport")
SetQuotasRequest = public(contracts.QuotaValues, ApiModel, name="SetQuotasRequest")
CSV_COLUMNS = ("user", "app", "session_hours", "job_cpu_seconds", "sessions", "jobs")


class UsageParams(ApiModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: datetime | None = Field(None, alias="from", description="From (inclusive, ISO 8601 "
                                   "with a time zone); default: the month's first day, UTC.")
    end: datetime | None = Field(None, alias="to", description="To (exclusive); default: now.")
    format: Literal["json", "csv"] = Field("json", description="`csv`: text/csv with a header.")


def _kind(request: web.Request) -> str:
    kind = _KINDS.get(request.match_info["kind"])
    if kind is None:
        raise web.HTTPNotFound()
    return kind


@routes.route("GET", "/api/v1/admin/quotas", summary="Default quotas and every override (admins)",
              response=QuotaOverview, errors=(403,))
async def list_quotas(request: web.Request) -> web.Response:
    return json_reply(QuotaOverview.of(await call_as_caller(request, QuotaMethods.LIST)))


@routes.route("GET", TARGET, summary="A user's or group's quotas (admins)", response=Quotas,
              errors=(403, 404))
async def get_quotas(request: web.Request) -> web.Response:
    """`{kind}` is `users` or `groups`. For a user, `effective` lists each quota in force
    (own override, else the most generous of their groups', else the default) and its use."""
    found = await call_as_caller(request, QuotaMethods.GET, kind=_kind(request))
    return json_reply(Quotas.of(found))


@routes.route("PUT", TARGET, summary="Replace a user's or group's quota overrides (admins)",
              request=SetQuotasRequest, response=Quotas, errors=(400, 403, 404, 413))
async def set_quotas(request: web.Request) -> web.Response:
    """The body lists the overrides to keep; a quota left out (or `null`) inherits."""
    kind = _kind(request)
    values = await read_json(request, SetQuotasRequest)
    found = await call_as_caller(request, QuotaMethods.SET, kind=kind,
                                 values=values.model_dump())
    return json_reply(Quotas.of(found))


@routes.route("GET", "/api/v1/admin/usage", summary="Usage per user and app (admins)",
              query=UsageParams, response=UsageReport, errors=(400, 403))
async def usage(request: web.Request) -> web.Response:
    """Session hours and job CPU seconds (each attempt's run time times its cores) per user
    and app, clipped to the period. `format=csv` answers `text/csv` with a header row."""
    params = read_query(request, UsageParams)
    report = await call_as_caller(request, QuotaMethods.USAGE, start=params.start,
                                  end=params.end)
    if params.format == "csv":
        return web.Response(text=usage_csv(report.rows), content_type="text/csv",
                            headers={"Content-Disposition": 'attachment; filename="usage.csv"'})
    return json_reply(UsageReport.of(report))


def usage_csv(rows: list[Any]) -> str:
    """``rows`` (UsageRow) as CSV with a header line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([getattr(row, column) for column in CSV_COLUMNS])
    return out.getvalue()
