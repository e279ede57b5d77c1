"""Every authorization decision of the platform, in one place.

Each RPC method declares its rule (``Method.rule``: an :class:`Action` value, ``public`` or
``worker``). The RPC server calls :func:`guard` before every handler, which decides the rules
that need no resource; handlers of rules on a resource (an owner, a shared group, an app's
rights) call :func:`authorize` (or :func:`authorize_private` for resources whose existence is
itself private) once they hold the row. Later features add their actions and rules here
instead of scattering checks. The rules today (docs/security.md, "Rights", has the table):

- the platform itself (``system``) and admins may do anything;
- roles: ``admin``, ``publisher``, ``user``. Only admins set roles and create users; a user
  may read their own account;
- runtimes are read by every signed-in user and registered and deleted by admins only (a
  runtime runs every app's sessions and jobs, so it is the platform's, not an app's);
- apps: an app with no use-groups may be used by every signed-in user; one with use-groups
  only by their members and the app's publishers. To use an app is to see it, open sessions
  of it, submit jobs to it and register cases of it; an app one may not use is "not found"
  everywhere (:data:`Action.APP_READ`, checked by the app, job, session and case handlers);
- publishers (the role) create apps; the creator of an app and the members of its
  publish-groups are its publishers, who, holding the publisher role, publish, activate (roll
  back) and delete its versions and change its rights. Admins do all of it on every app;
- a case may be read by its owner and by members of the group it is shared with, as long as
  the owner is still a member; only its owner (or an admin) changes it, and a case is shared
  only with a group its owner belongs to. Reads of a case one may not see answer "not found";
- groups are managed by admins; a user sees the groups they belong to;
- any signed-in user may submit jobs to the apps they may use; a job is read, cancelled and
  interrupted by its owner (and admins); reads of another user's job answer "not found".
  Only admins list everyone's;
- any signed-in user may open data sessions of the apps they may use (up to the per-user
  limit); a session is read and stopped by its owner and admins only, and everyone else is
  told "not found" (the API, the proxy under ``/s/{id}/`` and its WebSocket alike). Only
  admins list everyone's.
- a user makes, lists and revokes their own personal tokens, signs out everywhere and changes
  their own password; another user's token is "not found". Admins list and revoke anyone's
  tokens, reset passwords and disable accounts. (What a token's *scope* lets its holder ask
  is decided by the portal, per request: ``portal_svc/scopes.py``.)
- quotas are read and set, and usage is read, by admins only; a user learns their own quota
  from the refusal that names it.
- the audit log is read by admins only; Docker hosts are listed, drained and returned by
  admins only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel

from common.contracts.base import Principal
from common.contracts.method import PORTAL, AnyMethod
from common.errors import Forbidden, NotFound


class Action(StrEnum):
    USER_CREATE = "user.create"
    USER_LIST = "user.list"
    USER_READ = "user.read"
    USER_SET_ROLE = "user.set_role"
    RUNTIME_READ = "runtime.read"
    RUNTIME_REGISTER = "runtime.register"
    RUNTIME_DELETE = "runtime.delete"
    APP_READ = "app.read"
    APP_PUBLISH = "app.publish"
    APP_ACTIVATE = "app.activate"
    APP_DELETE = "app.delete_version"
    APP_RIGHTS = "app.rights"  # read and change which groups may use and publish an app
    CASE_CREATE = "case.create"
    CASE_LIST = "case.list"  # every user; the list holds only the cases CASE_READ lets them see
    CASE_READ = "case.read"
    CASE_RENAME = "case.rename"
    CASE_SHARE = "case.share"
    CASE_DELETE = "case.delete"
    GROUP_CREATE = "group.create"
    GROUP_MANAGE = "group.manage_members"
    GROUP_LIST = "group.list"  # every user; what they see is scoped by GROUP_LIST_ALL
    GROUP_LIST_ALL = "group.list_all"
    JOB_SUBMIT = "job.submit"
    JOB_LIST = "job.list"  # every user; scoped to their own jobs unless JOB_LIST_ALL
    JOB_LIST_ALL = "job.list_all"
    JOB_READ = "job.read"
    JOB_CANCEL = "job.cancel"
    JOB_INTERRUPT = "job.interrupt"
    SESSION_CREATE = "session.create"
    SESSION_LIST = "session.list"  # every user; scoped to their own unless SESSION_LIST_ALL
    SESSION_LIST_ALL = "session.list_all"
    SESSION_READ = "session.read"
    SESSION_STOP = "session.stop"
    TOKEN_CREATE = "token.create"
    TOKEN_LIST = "token.list"  # every user, their own; someone else's needs TOKEN_LIST_ALL
    TOKEN_LIST_ALL = "token.list_all"
    TOKEN_REVOKE = "token.revoke"
    USER_SIGN_OUT = "user.sign_out_everywhere"
    USER_CHANGE_PASSWORD = "user.change_password"
    USER_RESET_PASSWORD = "user.reset_password"
    USER_DISABLE = "user.disable"
    QUOTA_READ = "quota.read"  # admins only (no user rule)
    QUOTA_SET = "quota.set"
    USAGE_READ = "usage.read"
    AUDIT_READ = "audit.read"
    HOST_READ = "host.read"
    HOST_DRAIN = "host.drain"


PUBLIC = "public"
"""Rule of methods without a principal whose request proves itself (a password, a token) or
asks nothing (ping)."""
WORKER = "worker"
"""Rule of worker reports: no principal; they concern only attempts leased to the sender."""
PORTAL_VOUCHED = "portal_vouched"
"""Rule of methods whose request the portal vouches for: the claims of an ID token the portal
verified (OpenID Connect sign-in). No principal; such a method must declare the portal's broker
role as its only caller, so with broker roles enforced no other sender gets past the caller
check (docs/security.md)."""
RULES: frozenset[str] = frozenset({*Action, PUBLIC, WORKER, PORTAL_VOUCHED})
"""Every rule a declared method (:class:`~common.contracts.method.Method`) may name."""

_USER_RULES: dict[Action, str] = {
    Action.USER_READ: "self",  # a user may act on a resource they own
    Action.RUNTIME_READ: "signed_in",
    Action.APP_READ: "app_user",  # the app has no use-groups, or the actor is in one
    Action.APP_PUBLISH: "app_publisher",  # a publisher, and the app is new or theirs
    Action.APP_ACTIVATE: "app_publisher",
    Action.APP_DELETE: "app_publisher",
    Action.APP_RIGHTS: "app_publisher",
    Action.CASE_CREATE: "signed_in",
    Action.CASE_LIST: "signed_in",
    Action.GROUP_LIST: "signed_in",
    Action.CASE_READ: "self_or_shared",  # the owner, or a member of the group it is shared with
    Action.CASE_RENAME: "self",
    Action.CASE_SHARE: "self",
    Action.CASE_DELETE: "self",
    Action.JOB_SUBMIT: "signed_in",
    Action.JOB_LIST: "signed_in",
    Action.JOB_READ: "self",
    Action.JOB_CANCEL: "self",
    Action.JOB_INTERRUPT: "self",
    Action.SESSION_CREATE: "signed_in",
    Action.SESSION_LIST: "signed_in",
    Action.SESSION_READ: "self",
    Action.SESSION_STOP: "self",
    Action.TOKEN_CREATE: "signed_in",
    Action.TOKEN_LIST: "signed_in",
    Action.TOKEN_REVOKE: "self",
    Action.USER_SIGN_OUT: "signed_in",  # acts on the caller's own account only
    Action.USER_CHANGE_PASSWORD: "signed_in",  # likewise
}


@dataclass(frozen=True)
class AppAccess:
    """What the app rules need to know about one app and one actor (read by
    :func:`backend_svc.app_rights.access`). ``None`` in place of it: the app does not exist
    yet (publishing its first version creates it)."""

    restricted: bool  # the app has use-groups
    user: bool  # the actor is a member of one of them
    publisher: bool  # the actor created the app or is a member of one of its publish-groups


def _app_rule(actor: Principal, rule: str, app: AppAccess | None) -> bool:
    if rule == "app_user":
        return app is not None and (not app.restricted or app.user or app.publisher)
    # "app_publisher": the role may publish, and the app is new or the actor publishes it
    return actor.is_publisher and (app is None or app.publisher)


def allowed(
    actor: Principal, action: Action, *, owner_id: str | None = None, shared: bool = False,
    app: AppAccess | None = None,
) -> bool:
    """Whether ``actor`` may perform ``action``.

    ``owner_id`` is the owner of the resource acted on; ``shared`` says the resource is shared
    with a group ``actor`` belongs to; ``app`` is what the app rules need (None: a new app).
    """
    if actor.system or actor.is_admin:
        return True
    signed_in = actor.user_id is not None
    rule = _USER_RULES.get(action)
    if rule == "signed_in":
        return signed_in
    if rule == "self":
        return signed_in and actor.user_id == owner_id
    if rule == "self_or_shared":
        return signed_in and (actor.user_id == owner_id or shared)
    if rule in ("app_user", "app_publisher"):
        return signed_in and _app_rule(actor, rule, app)
    return False


def authorize(
    actor: Principal, action: Action, *, owner_id: str | None = None, shared: bool = False,
    app: AppAccess | None = None,
) -> None:
    """Raise Forbidden unless :func:`allowed`."""
    if not allowed(actor, action, owner_id=owner_id, shared=shared, app=app):
        raise Forbidden(f"{actor.username} is not allowed to {action.value}")


def authorize_private(
    actor: Principal, action: Action, read: Action, *, owner_id: str | None, shared: bool,
    what: str,
) -> None:
    """Authorize ``action`` on a resource whose existence is private (a case).

    Raises NotFound (``what`` not found) when ``actor`` may not even ``read`` it, so a stranger
    learns nothing; Forbidden when they may read it but not perform ``action``.
    """
    if not allowed(actor, read, owner_id=owner_id, shared=shared):
        raise NotFound(f"{what} not found")
    authorize(actor, action, owner_id=owner_id, shared=shared)


def authorize_app(
    actor: Principal, action: Action, app: AppAccess | None, name: str, *,
    code: str = "unknown_app",
) -> None:
    """Authorize ``action`` on the app ``name`` (``app`` None: there is no such app yet).

    Raises NotFound (``code``) when the app exists and ``actor`` may not use it (an app one
    may not use is not found, whatever the action), or when it does not exist and ``action``
    needs it; Forbidden when they may use it but not perform ``action``.
    """
    if app is None and action is not Action.APP_PUBLISH:
        raise NotFound(f"app {name!r} not found", code=code)
    if app is not None and not allowed(actor, Action.APP_READ, app=app):
        raise NotFound(f"app {name!r} not found", code=code)
    authorize(actor, action, app=app)


_APP_RULES = {"app_user", "app_publisher"}
_RESOURCE_RULES = {"self", "self_or_shared", *_APP_RULES}


def guard(method: AnyMethod, request: BaseModel) -> None:
    """The RPC server's hook: apply ``method.rule`` before its handler runs.

    Rules that need no resource (signed in, admins only) are decided here from the request's
    ``actor``; rules on a resource (owner, shared group, an app's rights) need the row, so the
    handler checks them with the same action through :func:`authorize_private` or
    :func:`authorize_app`. The app rules first need a signed-in actor, which is decided here
    (it tells nothing about any app). Raises Forbidden.
    """
    if method.rule in (PUBLIC, WORKER):
        return
    if method.rule == PORTAL_VOUCHED:
        if set(method.callers) != {PORTAL}:  # a declaration error, refused at every call
            raise Forbidden(f"{method.name}: rule {PORTAL_VOUCHED} needs callers=(portal,)")
        return
    action = Action(method.rule)
    rule = _USER_RULES.get(action)
    if rule in _RESOURCE_RULES - _APP_RULES:
        return
    actor = getattr(request, "actor", None)
    if not isinstance(actor, Principal):  # a declaration without an actor: refuse, never guess
        raise Forbidden(f"{method.name} names no actor for rule {method.rule}")
    if rule in _APP_RULES:
        if actor.user_id is None and not (actor.system or actor.is_admin):
            raise Forbidden(f"{method.name} is for signed-in users")
        return
    authorize(actor, action)
