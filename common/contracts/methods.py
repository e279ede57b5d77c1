"""The method table: every RPC method on the bus, declared once.

A :class:`~common.contracts.method.Method` names the wire method, its request and reply
contracts (defined in the family modules ``common/contracts/<family>.py``), the queue of the
service that serves it, the policy rule that guards it and the broker roles that may send it.
The server's registration, the typed client call, the policy check and the AsyncAPI document
all come from here (see :mod:`common.contracts.method`).

Adding a method: declare it in its family's class below; write its handler with
``@implements(TheMethod)``. Nothing else changes.
"""

from __future__ import annotations

from typing import Any

from common.amqp.topology import BACKEND_RPC
from common.contracts import system
from common.contracts.admin import AuditPage, HostList, HostOut, HostRef, ListAudit, ListHosts
from common.contracts.cases import (
    CaseList,
    CaseLocation,
    CaseOut,
    CaseRef,
    ListCases,
    RegisterCase,
    RenameCase,
    ShareCase,
)
from common.contracts.groups import CreateGroup, GroupList, GroupMember, GroupOut, ListGroups
from common.contracts.jobs import (
    Accepted,
    JobFinished,
    JobList,
    JobOut,
    JobProgress,
    JobRef,
    JobStarted,
    ListJobs,
    SubmitJob,
    WorkerReport,
    WorkerReportReply,
)
from common.contracts.method import (
    BACKEND,
    PORTAL,
    SESSION_WORKER,
    SOLVE_WORKER,
    AnyMethod,
    Method,
    declared_in,
)
from common.contracts.oidc import OidcRefusal, VerifiedClaims
from common.contracts.quotas import (
    ListQuotas,
    QuotaOverview,
    QuotasOut,
    QuotaTarget,
    SetQuotas,
    UsageQuery,
    UsageReport,
)
from common.contracts.registry import (
    AppList,
    AppOut,
    AppRef,
    AppRights,
    AppVersionDeleted,
    AppVersionOut,
    AppVersionRef,
    ListApps,
    ListRuntimes,
    PublishAppVersion,
    RegisterRuntime,
    RuntimeDeleted,
    RuntimeList,
    RuntimeOut,
    RuntimeRef,
    SetAppRights,
)
from common.contracts.sessions import (
    WORKER,
    ClaimSession,
    CreateSession,
    ListSessions,
    SessionCase,
    SessionCaseRef,
    SessionCases,
    SessionFailed,
    SessionJob,
    SessionJobRef,
    SessionLaunch,
    SessionList,
    SessionListCases,
    SessionOut,
    SessionReady,
    SessionRef,
    SessionSaveCase,
    SessionStopped,
    SessionSubmitJob,
    SessionWorkerReply,
    SessionWorkerReport,
)
from common.contracts.tokens import (
    CreateToken,
    ListTokens,
    Revoked,
    RevokeTokenId,
    SignOutEverywhere,
    TokenCreated,
    TokenList,
    TokenOut,
)
from common.contracts.users import (
    Authenticate,
    ChangePassword,
    CreateUser,
    Empty,
    ListUsers,
    ResetPassword,
    ResolveToken,
    RevokeToken,
    SetDisabled,
    SetRole,
    TokenHolder,
    TokenIssued,
    UserList,
    UserOut,
)

_WORKER = (SOLVE_WORKER,)


def _session(name: str, request: type[Any], reply: type[Any], rule: str, summary: str,
             caller: str = PORTAL) -> AnyMethod:
    return Method(name, request, reply, BACKEND_RPC, rule, summary, (caller,))


def _session_worker(name: str, request: type[Any], reply: type[Any], summary: str) -> AnyMethod:
    return _session(name, request, reply, WORKER, summary, SESSION_WORKER)


class UserMethods:
    """Served by backend_svc on ``topology.BACKEND_RPC``."""

    CREATE = Method(
        "users.create", CreateUser, UserOut, BACKEND_RPC, "user.create",
        "Create a user (admins and the platform).", callers=(PORTAL, BACKEND))
    LIST = Method("users.list", ListUsers, UserList, BACKEND_RPC, "user.list",
                  "List users (admins).")
    LOGIN = Method("auth.login", Authenticate, TokenIssued, BACKEND_RPC, "public",
                   "Check a password and issue an API token (401 unauthenticated on any "
                   "mismatch).")
    RESOLVE_TOKEN = Method("auth.resolve", ResolveToken, TokenHolder, BACKEND_RPC, "public",
                           "The user behind a live token (401 when unknown or revoked).")
    REVOKE_TOKEN = Method("auth.revoke", RevokeToken, Empty, BACKEND_RPC, "public",
                          "Revoke a token.")
    OIDC_SIGNIN = Method("auth.oidc", VerifiedClaims, TokenIssued, BACKEND_RPC, "portal_vouched",
                         "Sign in the user linked to an OpenID Connect identity (created when "
                         "allowed), sync its mapped groups and issue a token (403 when unknown).",
                         callers=(PORTAL,))
    OIDC_REFUSED = Method("auth.oidc_refused", OidcRefusal, Empty, BACKEND_RPC, "portal_vouched",
                          "Audit an OpenID Connect sign-in the portal refused.",
                          callers=(PORTAL,))
    CHANGE_PASSWORD = Method(
        "users.change_password", ChangePassword, Empty, BACKEND_RPC, "user.change_password",
        "Change your own password (403 wrong_password unless the current one is given).")
    RESET_PASSWORD = Method(
        "users.reset_password", ResetPassword, UserOut, BACKEND_RPC, "user.reset_password",
        "Set a user's password (admins); every token of that user is revoked.")
    SET_DISABLED = Method(
        "users.set_disabled", SetDisabled, UserOut, BACKEND_RPC, "user.disable",
        "Disable (every token revoked, sign-in refused) or enable an account (admins).")
    SET_ROLE = Method("users.set_role", SetRole, UserOut, BACKEND_RPC, "user.set_role",
                      "Set a user's role: admin, publisher or user (admins; 404 unknown_user, "
                      "409 last_admin).")


class TokenMethods:
    """Served by backend_svc on ``topology.BACKEND_RPC``."""

    CREATE = Method("tokens.create", CreateToken, TokenCreated, BACKEND_RPC, "token.create",
                    "Make a personal API token (its secret is in this reply only).")
    LIST = Method("tokens.list", ListTokens, TokenList, BACKEND_RPC, "token.list",
                  "Your live personal tokens (admins: anyone's).")
    REVOKE = Method("tokens.revoke", RevokeTokenId, TokenOut, BACKEND_RPC, "token.revoke",
                    "Revoke one personal token (its owner, admins; 404 for anyone else).")
    SIGN_OUT_EVERYWHERE = Method(
        "tokens.revoke_all", SignOutEverywhere, Revoked, BACKEND_RPC,
        "user.sign_out_everywhere", "Revoke every token of the caller: personal tokens and "
        "every sign-in (browser sessions, CLI logins).")


class RegistryMethods:
    """Served by backend_svc on ``topology.BACKEND_RPC``."""

    REGISTER_RUNTIME = Method(
        "runtimes.register", RegisterRuntime, RuntimeOut, BACKEND_RPC, "runtime.register",
        "Register a verified runtime package (admins; 409 duplicate_version).")
    LIST_RUNTIMES = Method("runtimes.list", ListRuntimes, RuntimeList, BACKEND_RPC,
                           "runtime.read", "List runtimes, newest first.")
    GET_RUNTIME = Method("runtimes.get", RuntimeRef, RuntimeOut, BACKEND_RPC, "runtime.read",
                         "One runtime (404).")
    DELETE_RUNTIME = Method(
        "runtimes.delete", RuntimeRef, RuntimeDeleted, BACKEND_RPC, "runtime.delete",
        "Delete a runtime, returning its S3 key (admins; 409 in_use while an active app "
        "version has no other runtime).")
    PUBLISH_APP = Method(
        "apps.publish", PublishAppVersion, AppVersionOut, BACKEND_RPC, "app.publish",
        "Publish an app version (publishers of the app, or of a new one; admins; 409 "
        "duplicate_version, 400 runtime_unsatisfied).")
    LIST_APPS = Method("apps.list", ListApps, AppList, BACKEND_RPC, "app.read",
                       "List the apps the caller may use, with their versions.")
    GET_APP = Method("apps.get", AppRef, AppOut, BACKEND_RPC, "app.read",
                     "One app with its versions (404 when unknown or not usable by the caller).")
    ACTIVATE_APP = Method("apps.activate", AppVersionRef, AppOut, BACKEND_RPC, "app.activate",
                          "Activate a version of an app; an older one rolls back (its publishers).")
    DELETE_APP_VERSION = Method(
        "apps.delete_version", AppVersionRef, AppVersionDeleted, BACKEND_RPC,
        "app.delete_version",
        "Delete an app version, returning its S3 key (its publishers; 409 in_use).")
    GET_RIGHTS = Method("apps.get_rights", AppRef, AppRights, BACKEND_RPC, "app.rights",
                        "Which groups may use and publish an app (its publishers, admins).")
    SET_RIGHTS = Method(
        "apps.set_rights", SetAppRights, AppRights, BACKEND_RPC, "app.rights",
        "Replace which groups may use and publish an app (its publishers, admins; 404 "
        "unknown_group).")


class CaseMethods:
    """Served by backend_svc on ``topology.BACKEND_RPC``."""

    REGISTER = Method("cases.register", RegisterCase, CaseOut, BACKEND_RPC, "case.create",
                      "Record a case stored in S3 (404 unknown_app, 400 unknown_app_version).")
    LIST = Method("cases.list", ListCases, CaseList, BACKEND_RPC, "case.list",
                  "The caller's cases and those shared with their groups, paged.")
    GET = Method("cases.get", CaseRef, CaseLocation, BACKEND_RPC, "case.read",
                 "A case and its S3 key (owner, admin, shared group; else 404).")
    RENAME = Method("cases.rename", RenameCase, CaseOut, BACKEND_RPC, "case.rename",
                    "Rename a case (owner, admin).")
    SHARE = Method("cases.share", ShareCase, CaseOut, BACKEND_RPC, "case.share",
                   "Share a case read-only with a group, or stop sharing (owner, admin).")
    DELETE = Method("cases.delete", CaseRef, CaseLocation, BACKEND_RPC, "case.delete",
                    "Delete a case; the reply names the S3 key to remove (owner, admin).")


class GroupMethods:
    """Served by backend_svc on ``topology.BACKEND_RPC``."""

    CREATE = Method("groups.create", CreateGroup, GroupOut, BACKEND_RPC, "group.create",
                    "Create a group (admins; 409 group_exists).")
    ADD_MEMBER = Method("groups.add_member", GroupMember, GroupOut, BACKEND_RPC,
                        "group.manage_members", "Add a user to a group (admins).")
    REMOVE_MEMBER = Method("groups.remove_member", GroupMember, GroupOut, BACKEND_RPC,
                           "group.manage_members", "Remove a user from a group (admins).")
    LIST = Method("groups.list", ListGroups, GroupList, BACKEND_RPC, "group.list",
                  "Groups: all for admins, one's own for users.")


class JobMethods:
    """Portal → backend, on ``topology.BACKEND_RPC``."""

    SUBMIT = Method(
        "jobs.submit", SubmitJob, JobOut, BACKEND_RPC, "job.submit",
        "Queue a job (404 unknown_app / unknown_version / not_found for a case one may not "
        "see, 400 unknown_procedure or invalid limits, 422 time_limit_too_long, "
        "429 quota_exceeded).")
    LIST = Method("jobs.list", ListJobs, JobList, BACKEND_RPC, "job.list",
                  "One's own jobs (admins: everyone's), newest first, with queue positions.")
    GET = Method("jobs.get", JobRef, JobOut, BACKEND_RPC, "job.read",
                 "One job (another user's: 404).")
    CANCEL = Method("jobs.cancel", JobRef, JobOut, BACKEND_RPC, "job.cancel",
                    "Cancel a job: queued at once, scheduled/running by StopJob "
                    "(409 not_cancellable).")
    INTERRUPT = Method("jobs.interrupt", JobRef, JobOut, BACKEND_RPC, "job.interrupt",
                       "Interrupt a running job, keeping its best solution "
                       "(409 not_interruptible).")


class WorkerMethods:
    """Solve worker → backend, on ``topology.BACKEND_RPC``. No principal: the rule ``worker``
    trusts the broker user (a worker's reports concern only attempts leased to it)."""

    REPORT = Method("workers.report", WorkerReport, WorkerReportReply, BACKEND_RPC, "worker",
                    "A solve worker's capacity and heartbeat; the reply lists attempts to stop.",
                    callers=_WORKER)
    STARTED = Method("jobs.started", JobStarted, Accepted, BACKEND_RPC, "worker",
                     "An attempt started (current=false: stale, stop it).", callers=_WORKER)
    PROGRESS = Method("jobs.progress", JobProgress, Accepted, BACKEND_RPC, "worker",
                      "Progress of an attempt (rate-limited into events).", callers=_WORKER)
    FINISHED = Method("jobs.finished", JobFinished, Accepted, BACKEND_RPC, "worker",
                      "An attempt finished; idempotent per attempt.", callers=_WORKER)


class SessionMethods:
    """Data sessions: portal → backend and session worker → backend, on
    ``topology.BACKEND_RPC``. Worker reports carry no principal (rule ``worker``)."""

    CREATE = _session("sessions.create", CreateSession, SessionOut, "session.create",
                      "Request a data session of an app (404 unknown_app / not_found case, 400 "
                      "case_app_mismatch, 429 quota_exceeded).")
    LIST = _session("sessions.list", ListSessions, SessionList, "session.list",
                    "One's own sessions (admins: everyone's), newest first.")
    GET = _session("sessions.get", SessionRef, SessionOut, "session.read",
                   "One session (another user's: 404).")
    STOP = _session("sessions.stop", SessionRef, SessionOut, "session.stop",
                    "Stop a session: autosave, then stop (another user's: 404).")
    CLAIM = _session_worker(
        "sessions.claim", ClaimSession, SessionLaunch,
        "A worker takes a requested session (current=false: someone else has it).")
    READY = _session_worker("sessions.ready", SessionReady, Accepted,
                            "A session's agent answers at endpoint.")
    FAILED = _session_worker("sessions.failed", SessionFailed, Accepted,
                             "A session could not start or died.")
    STOPPED = _session_worker("sessions.stopped", SessionStopped, Accepted,
                              "A session stopped (idempotent).")
    REPORT = _session_worker(
        "sessions.report", SessionWorkerReport, SessionWorkerReply,
        "Heartbeat of a session worker; the reply lists sessions to stop.")
    SAVE_CASE = _session_worker("sessions.save_case", SessionSaveCase, CaseOut,
                                "Register a case saved by a session, owned by its owner.")
    OPEN_CASE = _session_worker("sessions.open_case", SessionCaseRef, SessionCase,
                                "A case the session's owner may read, of the session's app.")
    LIST_CASES = _session_worker("sessions.list_cases", SessionListCases, SessionCases,
                                 "The owner's cases of the session's app.")
    SUBMIT_JOB = _session_worker("sessions.submit_job", SessionSubmitJob, JobOut,
                                 "Submit a job on the session's data, as its owner.")
    JOB = _session_worker("sessions.job", SessionJobRef, SessionJob,
                          "A job of the session's owner.")
    CANCEL_JOB = _session_worker("sessions.cancel_job", SessionJobRef, JobOut,
                                 "Cancel a job of the session's owner.")


class QuotaMethods:
    """Served by backend_svc on ``topology.BACKEND_RPC``; admins only."""

    GET = Method("quotas.get", QuotaTarget, QuotasOut, BACKEND_RPC, "quota.read",
                 "A user's or group's quota overrides; for a user, each effective quota and "
                 "its use (admins; 404 unknown_user / unknown_group).")
    SET = Method("quotas.set", SetQuotas, QuotasOut, BACKEND_RPC, "quota.set",
                 "Replace a user's or group's quota overrides (admins).")
    LIST = Method("quotas.list", ListQuotas, QuotaOverview, BACKEND_RPC, "quota.read",
                  "The default quotas and every override (admins).")
    USAGE = Method("usage.report", UsageQuery, UsageReport, BACKEND_RPC, "usage.read",
                   "Session hours and job CPU seconds per user and app over a period "
                   "(admins; 400 bad_period).")


class AdminMethods:
    """Served by backend_svc on ``topology.BACKEND_RPC``."""

    AUDIT = Method("audit.list", ListAudit, AuditPage, BACKEND_RPC, "audit.read",
                   "A page of the audit log, newest first, filtered (admins).")
    HOSTS = Method("hosts.list", ListHosts, HostList, BACKEND_RPC, "host.read",
                   "The Docker hosts workers report, their load and drained state (admins).")
    DRAIN_HOST = Method("hosts.drain", HostRef, HostOut, BACKEND_RPC, "host.drain",
                        "Drain a host: no new work is placed there, running work finishes "
                        "(admins; 404 for a host no worker reported).")
    RETURN_HOST = Method("hosts.return", HostRef, HostOut, BACKEND_RPC, "host.drain",
                         "Return a drained host to service (admins).")


ALL_METHODS: list[AnyMethod] = [
    *system.METHODS,
    *declared_in(UserMethods),
    *declared_in(TokenMethods),
    *declared_in(RegistryMethods),
    *declared_in(CaseMethods),
    *declared_in(GroupMethods),
    *declared_in(JobMethods),
    *declared_in(WorkerMethods),
    *declared_in(SessionMethods),
    *declared_in(QuotaMethods),
    *declared_in(AdminMethods),
]
"""Every RPC method on the bus, in one list."""
