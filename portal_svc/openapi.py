"""A small route registry for the REST API and the OpenAPI 3.1 document built from it.

Each API module keeps an :class:`ApiRoutes` table and declares its views with
``@routes.route(...)``: the path, method, summary, request/query/response models and the error
statuses it may answer. The app installs every table, and ``/api/v1/openapi.json`` describes
exactly what was installed, so the document grows with every endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal, cast

from aiohttp import web
from pydantic import BaseModel, Field
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from portal_svc import scopes

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
REF_TEMPLATE = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{(\w+)}")
BINARY = {"type": "string", "format": "binary"}
FILE_UPLOAD = {
    "application/octet-stream": {"schema": BINARY},
    "multipart/form-data": {"schema": {
        "type": "object", "properties": {"file": BINARY}, "required": ["file"],
    }},
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] | None = Field(
        None, description="Facts of the refusal when it has some: a quota's `quota`, `limit` "
        "and `used` (429 `quota_exceeded`).")


class ErrorResponse(BaseModel):
    """The body of every API error: ``{"error": {"code": ..., "message": ...}}``."""

    error: ErrorDetail


@dataclass(frozen=True)
class Operation:
    """One API endpoint as both the router and the OpenAPI document see it."""

    method: Method
    path: str
    handler: Handler
    summary: str
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    auth: bool = True
    tags: tuple[str, ...] = ()
    upload: bool = False  # the body is a file: raw octet-stream, or a form's ``file`` field
    download: bool = False  # the success reply is a file (application/octet-stream)

    @property
    def scope(self) -> str:
        """The least token scope that may call it (``x-modelport-scope`` in the document)."""
        return scopes.required(self.method, self.path)

    @property
    def error_statuses(self) -> list[int]:
        """Declared errors, plus 401 for authenticated calls (and 403 where a token's scope
        may fall short: :mod:`portal_svc.scopes`) and 503 when the backend is away."""
        implied = {401} if self.auth else set()
        if self.auth and self.scope != "read":
            implied.add(403)
        return sorted({*self.errors, *implied, 503})


@dataclass
class ApiRoutes:
    """A module's table of API operations (like aiohttp's ``RouteTableDef``, but described)."""

    tags: tuple[str, ...] = ()
    operations: list[Operation] = field(default_factory=list)

    def route(
        self, method: Method, path: str, *, summary: str, request: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None, response: type[BaseModel] | None = None,
        status: int = 200, errors: Iterable[int] = (), auth: bool = True,
        upload: bool = False, download: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Declare ``handler`` as ``method path``; returns the handler unchanged."""

        def register(handler: Handler) -> Handler:
            self.operations.append(Operation(
                method, path, handler, summary, request, query, response, status,
                tuple(errors), auth, self.tags, upload, download,
            ))
            return handler

        return register

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations)


def install(app: web.Application, operations: Iterable[Operation]) -> None:
    """Add every operation to ``app``'s router."""
    for op in operations:
        app.router.add_route(op.method, op.path, op.handler)


def openapi_document(
    operations: Iterable[Operation], *, title: str, version: str, server_url: str
) -> dict[str, Any]:
    """The OpenAPI 3.1 document describing ``operations``; schemas come from pydantic."""
    ops = list(operations)
    refs, schemas = _schemas(ops)
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


SchemaKey = tuple[type[BaseModel], JsonSchemaMode]


def _schemas(ops: list[Operation]) -> tuple[dict[SchemaKey, Any], dict[str, Any]]:
    keys: dict[SchemaKey, None] = {(ErrorResponse, "serialization"): None}
    for op in ops:
        if op.request is not None:
            keys[(op.request, "validation")] = None
        if op.response is not None:
            keys[(op.response, "serialization")] = None
    refs, top = models_json_schema(list(keys), ref_template=REF_TEMPLATE)
    return cast(dict[SchemaKey, Any], refs), top.get("$defs", {})


def _operation(op: Operation, refs: dict[SchemaKey, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "summary": op.summary,
        "operationId": op.handler.__name__,
        "responses": {str(op.status): _success(op, refs)},
    }
    if op.handler.__doc__:
        doc["description"] = op.handler.__doc__.strip()
    if op.tags:
        doc["tags"] = list(op.tags)
    if parameters := _parameters(op):
        doc["parameters"] = parameters
    if op.request is not None:
        content = {"application/json": {"schema": refs[(op.request, "validation")]}}
        doc["requestBody"] = {"required": True, "content": content}
    if op.upload:
        doc["requestBody"] = {"required": True, "content": FILE_UPLOAD}
    error_ref = refs[(ErrorResponse, "serialization")]
    for status in op.error_statuses:
        doc["responses"][str(status)] = {
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"schema": error_ref}},
        }
    if op.auth:
        doc["security"] = [{"bearerAuth": []}]
        doc["x-modelport-scope"] = op.scope
    return doc


def _success(op: Operation, refs: dict[SchemaKey, Any]) -> dict[str, Any]:
    reply: dict[str, Any] = {"description": HTTPStatus(op.status).phrase}
    if op.status == HTTPStatus.NO_CONTENT:
        return reply
    if op.download:
        reply["content"] = {"application/octet-stream": {"schema": BINARY}}
        return reply
    schema = refs[(op.response, "serialization")] if op.response else {"type": "object"}
    reply["content"] = {"application/json": {"schema": schema}}
    return reply


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(op.path)
    ]
    if op.query is not None:
        schema = op.query.model_json_schema()
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in required,
                           "schema": prop})
    return params
