"""Reading requests into models and writing models as JSON replies."""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from common.amqp.rpc import validation_message
from common.errors import BadRequest

M = TypeVar("M", bound=BaseModel)


async def read_json(request: web.Request, model: type[M]) -> M:
    """The request body as ``model``.

    Raises BadRequest ``malformed_json`` when the body is not JSON, ``invalid_request`` naming
    the fields when it does not fit the model; aiohttp's 413 when it exceeds the size limit.
    """
    body = await request.read()
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("the request body is not valid JSON", code="malformed_json") from None
    return _validate(model, data)


def read_query(request: web.Request, model: type[M]) -> M:
    """The query string as ``model``; BadRequest ``invalid_request`` naming bad parameters."""
    return _validate(model, dict(request.query))


def json_reply(
    model: BaseModel, *, status: int = 200, location: str | None = None
) -> web.Response:
    """``model`` as a JSON response; with ``location``, its ``Location`` header (what was
    created)."""
    response = web.json_response(text=model.model_dump_json(), status=status)
    if location is not None:
        response.headers["Location"] = location
    return response


def _validate(model: type[M], data: object) -> M:
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object", code="invalid_request")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(validation_message(exc), code="invalid_request") from None
