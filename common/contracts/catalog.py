"""The catalog of every message on the bus, and the AsyncAPI 3 document made from it.

Add a contract here when it is added to a family module; the AsyncAPI document integrators
read (``GET /api/v1/asyncapi.json``, ``modelport asyncapi``) is generated from this list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from common.amqp import topology
from common.contracts import system, users
from common.contracts.events import CloudEvent, UserCreated


@dataclass(frozen=True)
class EventSpec:
    data: type[BaseModel]
    type: str
    summary: str


@dataclass(frozen=True)
class RpcSpec:
    queue: str
    method: str
    request: type[BaseModel]
    reply: type[BaseModel]
    summary: str


EVENTS = [
    EventSpec(UserCreated, UserCreated.TYPE, "A user account was created."),
]

RPCS = [
    RpcSpec(q, system.PING, system.Ping, system.Pong, "Liveness through the broker.")
    for q in (topology.BACKEND_RPC, topology.SESSION_RPC, topology.SOLVE_RPC)
] + [
    RpcSpec(topology.BACKEND_RPC, users.Methods.CREATE_USER, users.CreateUser, users.UserOut,
            "Create a user (admins and the platform)."),
    RpcSpec(topology.BACKEND_RPC, users.Methods.LIST_USERS, users.ListUsers, users.UserList,
            "List users (admins)."),
    RpcSpec(topology.BACKEND_RPC, users.Methods.LOGIN, users.Authenticate, users.TokenIssued,
            "Check a password and issue an API token."),
    RpcSpec(topology.BACKEND_RPC, users.Methods.RESOLVE_TOKEN, users.ResolveToken,
            users.UserOut, "The user behind a live token."),
    RpcSpec(topology.BACKEND_RPC, users.Methods.REVOKE_TOKEN, users.RevokeToken, users.Empty,
            "Revoke a token."),
]


def _schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    """Put ``model``'s JSON schema (and its definitions) in ``schemas``; return a $ref."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        schemas[name] = definition
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def asyncapi_document(version: str) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every event and RPC method."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    envelope = _schema(CloudEvent, schemas)
    for event in EVENTS:
        key = event.type.replace(".", "_")
        messages[key] = {
            "name": event.type, "summary": event.summary,
            "contentType": "application/cloudevents+json",
            "payload": {"allOf": [envelope, {"type": "object", "properties": {
                "type": {"const": event.type}, "data": _schema(event.data, schemas)}}]},
        }
        channels[key] = {
            "address": event.type, "messages": {key: {"$ref": f"#/components/messages/{key}"}},
            "bindings": {"amqp": {"is": "routingKey", "exchange": {
                "name": topology.EVENTS, "type": "topic", "durable": True}}},
        }
        operations[f"receive_{key}"] = {"action": "receive",
                                        "channel": {"$ref": f"#/channels/{key}"}}
    for rpc in RPCS:
        key = f"{rpc.queue}_{rpc.method}".replace(".", "_")
        messages[f"{key}_request"] = {"name": rpc.method, "summary": rpc.summary,
                                      "payload": _schema(rpc.request, schemas)}
        messages[f"{key}_reply"] = {"name": f"{rpc.method} reply",
                                    "payload": _schema(rpc.reply, schemas)}
        channels[key] = {"address": rpc.queue, "messages": {
            m: {"$ref": f"#/components/messages/{m}"} for m in (f"{key}_request", f"{key}_reply")
        }}
        operations[f"call_{key}"] = {
            "action": "send", "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"{rpc.summary} AMQP `type` = {rpc.method!r}; reply by direct reply-to "
                       'as {"ok": true, "result": …} or {"ok": false, "error": …}.',
            "reply": {"address": {"location": "$message.header#/reply_to"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Modelport messages", "version": version},
        "defaultContentType": "application/json",
        "channels": channels, "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
