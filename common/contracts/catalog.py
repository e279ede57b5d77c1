"""The catalog of every message on the bus, and the AsyncAPI 3 document made from it.

Add a contract here when it is added to a family module; the AsyncAPI document integrators
read (``GET /api/v1/asyncapi.json``, ``modelport asyncapi``) is generated from this list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from common.amqp import topology
from common.contracts import cases, groups, jobs, registry, sessions, system, users
from common.contracts.cases import CaseEvent
from common.contracts.events import CloudEvent, UserCreated
from common.contracts.groups import GroupEvent
from common.contracts.jobs import JobEvent
from common.contracts.registry import AppVersionEvent, RuntimeDeletedEvent, RuntimeRegistered
from common.contracts.sessions import SessionEvent


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
] + [EventSpec(SessionEvent, type_, summary) for type_, summary in sessions.EVENTS]

# Registry, cases and groups: (method, request, reply, summary) on the backend queue.
_PACKAGE_RPCS: list[tuple[str, type[BaseModel], type[BaseModel], str]] = [
    (registry.RegistryMethods.REGISTER_RUNTIME, registry.RegisterRuntime,
     registry.RuntimeOut, "Register a verified runtime package (admins; 409 "
     "duplicate_version)."),
    (registry.RegistryMethods.LIST_RUNTIMES, registry.ListRuntimes, registry.RuntimeList,
     "List runtimes, newest first."),
    (registry.RegistryMethods.GET_RUNTIME, registry.RuntimeRef, registry.RuntimeOut,
     "One runtime (404)."),
    (registry.RegistryMethods.DELETE_RUNTIME, registry.RuntimeRef, registry.RuntimeDeleted,
     "Delete a runtime, returning its S3 key (admins; 409 in_use while an active app "
     "version has no other runtime)."),
    (registry.RegistryMethods.PUBLISH_APP, registry.PublishAppVersion,
     registry.AppVersionOut, "Publish an app version (admins; 409 duplicate_version, 400 "
     "runtime_unsatisfied)."),
    (registry.RegistryMethods.LIST_APPS, registry.ListApps, registry.AppList,
     "List apps with their versions."),
    (registry.RegistryMethods.GET_APP, registry.AppRef, registry.AppOut,
     "One app with its versions (404)."),
    (registry.RegistryMethods.ACTIVATE_APP, registry.AppVersionRef, registry.AppOut,
     "Activate a version of an app; an older one rolls back (admins)."),
    (registry.RegistryMethods.DELETE_APP_VERSION, registry.AppVersionRef,
     registry.AppVersionDeleted, "Delete an app version, returning its S3 key (admins; "
     "409 in_use)."),
    (cases.CaseMethods.REGISTER, cases.RegisterCase, cases.CaseOut,
     "Record a case stored in S3 (404 unknown_app, 400 unknown_app_version)."),
    (cases.CaseMethods.LIST, cases.ListCases, cases.CaseList,
     "The caller's cases and those shared with their groups, paged."),
    (cases.CaseMethods.GET, cases.CaseRef, cases.CaseLocation,
     "A case and its S3 key (owner, admin, shared group; else 404)."),
    (cases.CaseMethods.RENAME, cases.RenameCase, cases.CaseOut,
     "Rename a case (owner, admin)."),
    (cases.CaseMethods.SHARE, cases.ShareCase, cases.CaseOut,
     "Share a case read-only with a group, or stop sharing (owner, admin)."),
    (cases.CaseMethods.DELETE, cases.CaseRef, cases.CaseLocation,
     "Delete a case; the reply names the S3 key to remove (owner, admin)."),
    (groups.GroupMethods.CREATE, groups.CreateGroup, groups.GroupOut,
     "Create a group (admins; 409 group_exists)."),
    (groups.GroupMethods.ADD_MEMBER, groups.GroupMember, groups.GroupOut,
     "Add a user to a group (admins)."),
    (groups.GroupMethods.REMOVE_MEMBER, groups.GroupMember, groups.GroupOut,
     "Remove a user from a group (admins)."),
    (groups.GroupMethods.LIST, groups.ListGroups, groups.GroupList,
     "Groups: all for admins, one's own for users."),
    (jobs.JobMethods.SUBMIT, jobs.SubmitJob, jobs.JobOut,
     "Queue a job (404 unknown_app / unknown_version / not_found for a case one may not see, "
     "400 unknown_procedure or invalid limits)."),
    (jobs.JobMethods.LIST, jobs.ListJobs, jobs.JobList,
     "One's own jobs (admins: everyone's), newest first, with queue positions."),
    (jobs.JobMethods.GET, jobs.JobRef, jobs.JobOut, "One job (another user's: 404)."),
    (jobs.JobMethods.CANCEL, jobs.JobRef, jobs.JobOut,
     "Cancel a job: queued at once, scheduled/running by StopJob (409 not_cancellable)."),
    (jobs.JobMethods.INTERRUPT, jobs.JobRef, jobs.JobOut,
     "Interrupt a running job, keeping its best solution (409 not_interruptible)."),
    (jobs.WorkerMethods.REPORT, jobs.WorkerReport, jobs.WorkerReportReply,
     "A solve worker's capacity and heartbeat; the reply lists attempts to stop."),
    (jobs.WorkerMethods.STARTED, jobs.JobStarted, jobs.Accepted,
     "An attempt started (current=false: stale, stop it)."),
    (jobs.WorkerMethods.PROGRESS, jobs.JobProgress, jobs.Accepted,
     "Progress of an attempt (rate-limited into events)."),
    (jobs.WorkerMethods.FINISHED, jobs.JobFinished, jobs.Accepted,
     "An attempt finished; idempotent per attempt."),
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
] + [
    RpcSpec(topology.BACKEND_RPC, method, request, reply, summary)
    for method, request, reply, summary in _PACKAGE_RPCS
] + [
    RpcSpec(m.server, m.name, m.request, m.reply, m.summary) for m in sessions.METHODS
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
