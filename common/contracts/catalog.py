"""The catalog of every message on the bus, and the AsyncAPI 3 document made from it.

Events are listed here; RPC methods come from the method table (:mod:`common.contracts.methods`,
each declared once). The AsyncAPI document integrators read
(``GET /api/v1/asyncapi.json``) is generated from both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from common.amqp import topology
from common.contracts import sessions
from common.contracts.cases import CaseEvent
from common.contracts.events import CloudEvent, UserCreated, UserDisabled
from common.contracts.groups import GroupEvent
from common.contracts.jobs import JobEvent
from common.contracts.methods import ALL_METHODS
from common.contracts.registry import (
    AppRightsEvent,
    AppVersionEvent,
    RuntimeDeletedEvent,
    RuntimeRegistered,
)
from common.contracts.sessions import SessionEvent
from common.contracts.tokens import TokensRevoked
from common.contracts.users import UserRoleChanged


@dataclass(frozen=True)
class EventSpec:
    data: type[BaseModel]
    type: str
    summary: str


EVENTS = [
    EventSpec(UserCreated, UserCreated.TYPE, "A user account was created."),
    EventSpec(UserDisabled, UserDisabled.DISABLED, "An account was disabled (its tokens with it)."),
    EventSpec(UserDisabled, UserDisabled.ENABLED, "A disabled account was enabled again."),
    EventSpec(TokensRevoked, TokensRevoked.TYPE,
              "Tokens of a user were revoked (one, or all: sign out everywhere, a password "
              "reset, the account disabled); live streams they opened close."),
    EventSpec(RuntimeRegistered, RuntimeRegistered.TYPE, "A runtime was registered."),
    EventSpec(RuntimeDeletedEvent, RuntimeDeletedEvent.TYPE, "A runtime was deleted."),
    EventSpec(AppVersionEvent, AppVersionEvent.PUBLISHED,
              "A version of an app was published (the app is created with its first)."),
    EventSpec(AppVersionEvent, AppVersionEvent.ACTIVATED,
              "A version became the app's active version (publish, activate or rollback)."),
    EventSpec(AppVersionEvent, AppVersionEvent.DELETED,
              "A version of an app was deleted; with its last version, the app."),
    EventSpec(CaseEvent, CaseEvent.CREATED, "A case was registered."),
    EventSpec(CaseEvent, CaseEvent.UPDATED,
              "A case was renamed (extra.name) or shared (extra.shared_group, null: unshared)."),
    EventSpec(CaseEvent, CaseEvent.DELETED, "A case was deleted."),
    EventSpec(GroupEvent, GroupEvent.CREATED, "A group was created."),
    EventSpec(GroupEvent, GroupEvent.MEMBER_ADDED, "A user was added to a group."),
    EventSpec(GroupEvent, GroupEvent.MEMBER_REMOVED, "A user was removed from a group."),
    EventSpec(JobEvent, JobEvent.QUEUED, "A job was submitted and waits in the queue."),
    EventSpec(JobEvent, JobEvent.STARTED, "An attempt of a job started running on a worker."),
    EventSpec(JobEvent, JobEvent.PROGRESS,
              "Progress of a running job (fraction, message); at most one per job per "
              "progress_event_interval_s."),
    EventSpec(JobEvent, JobEvent.SUCCEEDED,
              "A job succeeded (interrupted: stopped early, keeping its best solution)."),
    EventSpec(JobEvent, JobEvent.FAILED,
              "A job failed (reason: timeout, oom, app_exception, retries_exhausted, ...)."),
    EventSpec(JobEvent, JobEvent.CANCELLED, "A job was cancelled."),
    EventSpec(JobEvent, JobEvent.LOST,
              "An attempt's lease expired; the job is queued again or fails."),
    EventSpec(UserRoleChanged, UserRoleChanged.TYPE, "An admin changed a user's role."),
    EventSpec(AppRightsEvent, AppRightsEvent.TYPE,
              "The groups that may use or publish an app changed."),
] + [EventSpec(SessionEvent, type_, summary) for type_, summary in sessions.EVENTS]



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
    for rpc in ALL_METHODS:
        key = f"{rpc.server}_{rpc.name}".replace(".", "_")
        messages[f"{key}_request"] = {"name": rpc.name, "summary": rpc.summary,
                                      "payload": _schema(rpc.request, schemas)}
        messages[f"{key}_reply"] = {"name": f"{rpc.name} reply",
                                    "payload": _schema(rpc.reply, schemas)}
        channels[key] = {"address": rpc.server, "messages": {
            m: {"$ref": f"#/components/messages/{m}"} for m in (f"{key}_request", f"{key}_reply")
        }}
        operations[f"call_{key}"] = {
            "action": "send", "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"{rpc.summary} AMQP `type` = {rpc.name!r}; reply by direct reply-to "
                       'as {"ok": true, "result": …} or {"ok": false, "error": …}.',
            "description": f"Rule: `{rpc.rule}`. Sent by: {', '.join(rpc.callers)}.",
            "reply": {"address": {"location": "$message.header#/reply_to"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Modelport messages", "version": version},
        "defaultContentType": "application/json",
        "channels": channels, "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
