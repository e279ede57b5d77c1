"""The common API view: one backend method called as the caller, its reply made public.

``return await relay(request, JobMethods.GET, Job)`` authenticates the caller, passes the path
parameters that name fields of the method's request (``{job_id}``), the fields given and the
body's or the query's, calls the method as the caller and answers ``Job.of(reply)``.
:func:`relay_cached` does the same for a list the portal keeps (:mod:`portal_svc.list_cache`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from common.contracts.method import AnyMethod
from portal_svc import auth
from portal_svc.api.io import json_reply, read_json, read_query
from portal_svc.appkeys import BACKEND
from portal_svc.list_cache import LIST_CACHE


async def relay(
    request: web.Request, method: AnyMethod, reply: Any, *, body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None, status: int = 200, **fields: Any,
) -> web.Response:
    """Raises what auth, the body or query parsing (400) and the backend raise."""
    result = await call_as_caller(request, method, body=body, query=query, **fields)
    return json_reply(reply.of(result), status=status)


async def relay_cached(
    request: web.Request, kind: str, method: AnyMethod, reply: Any, *,
    query: type[BaseModel] | None = None,
) -> web.Response:
    """:func:`relay` of a read whose answer depends only on the caller's user and role and
    the query: served from the list cache under ``kind`` when kept there. Raises what
    :func:`relay` raises (a refusal is never kept)."""
    caller = await auth.api_caller(request)
    given = read_query(request, query).model_dump() if query is not None else {}

    async def lookup() -> bytes:
        result = await request.app[BACKEND].call(method, actor=caller.principal, **given)
        return reply.of(result).model_dump_json().encode()

    body = await request.app[LIST_CACHE].answer(kind, caller.principal,
                                                tuple(sorted(given.items())), lookup)
    return web.Response(body=body, content_type="application/json", charset="utf-8")


async def call_as_caller(
    request: web.Request, method: AnyMethod, *, body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None, **fields: Any,
) -> Any:
    """``method``'s reply contract, called as the authenticated caller (see :func:`relay`)."""
    caller = await auth.api_caller(request)
    wanted = method.request.model_fields
    given: dict[str, Any] = {k: v for k, v in request.match_info.items() if k in wanted}
    if body is not None:
        given |= (await read_json(request, body)).model_dump()
    if query is not None:
        given |= read_query(request, query).model_dump()
    given |= fields  # what the view sets itself (from headers, say) wins
    return await request.app[BACKEND].call(method, actor=caller.principal, **given)
