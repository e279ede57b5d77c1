"""Calls of the sessions family's declared methods from the portal's views.

A small local helper until the backend client's generic ``call(method, **fields)`` lands: it
builds the request contract (a refused value is the caller's 400) and maps a broken broker
link to 503, as the client's own wrappers do.
"""

from __future__ import annotations

from typing import Any

import aiormq
from aiohttp import web
from pydantic import ValidationError

from common.amqp.rpc import validation_message
from common.contracts.method import Method, Rep, Req
from common.errors import BadRequest, Unavailable
from portal_svc.appkeys import BACKEND

_LINK_ERRORS = (aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError, OSError)


async def call(web_app: web.Application, method: Method[Req, Rep], /, **fields: Any) -> Rep:
    """Call ``method`` on the backend with a request built from ``fields``."""
    try:
        request = method.request.model_validate(fields)
    except ValidationError as exc:
        raise BadRequest(validation_message(exc), code="invalid_request") from None
    rpc = web_app[BACKEND]._rpc  # noqa: SLF001 - until the client's generic call lands
    try:
        return await rpc.call_method(method, request)
    except _LINK_ERRORS as exc:
        raise Unavailable("the platform's backend cannot be reached",
                          code="backend_unavailable") from exc
