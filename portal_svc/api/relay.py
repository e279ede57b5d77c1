"""The common API view: one backend method called as the caller, its reply made public.

``return await relay(request, JobMethods.GET, Job)`` authenticates the caller, passes the path
parameters that name fields of the method's request (``{job_id}``), the fields given and the
body's or the query's, calls the method as the caller and answers ``Job.of(reply)``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from common.contracts.method import AnyMethod
from portal_svc import auth
from portal_svc.api.io import json_reply, read_json, read_query
from portal_svc.appkeys import BACKEND


async def relay(
    request: web.Request, method: AnyMethod, reply: Any, *, body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None, status: int = 200, **fields: Any,
) -> web.Response:
    """Raises what auth, the body or query parsing (400) and the backend raise."""
    result = await call_as_caller(request, method, body=body, query=query, **fields)
    return json_reply(reply.of(result), status=status)


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
