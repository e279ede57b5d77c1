"""Every authorization decision of the platform, in one place.

Each RPC method declares its rule (``Method.rule``: an :class:`Action` value, ``public`` or
``worker``). The RPC server calls :func:`guard` before every handler, which decides the rules
that need no resource; handlers of owner and shared-group rules call :func:`authorize` (or
:func:`authorize_private` for resources whose existence is itself private) once they hold the
row. Later features add their actions and rules here instead of scattering checks. The rules
today:

- the platform itself (``system``) and admins may do anything;
- a user may read their own account;
- any signed-in user may read the registry (runtimes, apps) and register cases;
- registering runtimes and publishing, activating or deleting app versions is for admins.
  The per-app rights (use / publish / admin) come later: they change the rules of
  ``APP_*`` here and nothing in the handlers;
- a case may be read by its owner and by members of the group it is shared with; only its
  owner changes it. Reads of a case one may not see answer "not found", never "forbidden";
- groups are managed by admins; a user sees the groups they belong to;
- any signed-in user may submit jobs; a job is read, cancelled and interrupted by its owner
  (and admins); reads of another user's job answer "not found". Only admins list everyone's.
- any signed-in user may open data sessions (up to the per-user limit); a session is read and
  stopped by its owner and admins only, and everyone else is told "not found" (the API, the
  proxy under ``/s/{id}/`` and its WebSocket alike). Only admins list everyone's.
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

from enum import StrEnum

from pydantic import BaseModel

from common.contracts.base import Principal
from common.contracts.method import PORTAL, AnyMethod
from common.errors import Forbidden, NotFound


class Action(StrEnum):
    USER_CREATE = "user.create"
    USER_LIST = "user.list"
    USER_READ = "user.read"
    RUNTIME_READ = "runtime.read"
    RUNTIME_REGISTER = "runtime.register"
    RUNTIME_DELETE = "runtime.delete"
    APP_READ = "app.read"
    APP_PUBLISH = "app.publish"
    APP_ACTIVATE = "app.activate"
    APP_DELETE = "app.delete_version"
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
    Action.APP_READ: "signed_in",
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


def allowed(
    actor: Principal, action: Action, *, owner_id: str | None = None, shared: bool = False
) -> bool:
    """Whether ``actor`` may perform ``action``.

    ``owner_id`` is the owner of the resource acted on; ``shared`` says the resource is shared
    with a group ``actor`` belongs to.
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
    return False


def authorize(
    actor: Principal, action: Action, *, owner_id: str | None = None, shared: bool = False
) -> None:
    """Raise Forbidden unless :func:`allowed`."""
    if not allowed(actor, action, owner_id=owner_id, shared=shared):
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


_RESOURCE_RULES = {"self", "self_or_shared"}


def guard(method: AnyMethod, request: BaseModel) -> None:
    """The RPC server's hook: apply ``method.rule`` before its handler runs.

    Rules that need no resource (signed in, admins only) are decided here from the request's
    ``actor``; rules on a resource (owner, shared group) need the row, so the handler checks
    them with the same action through :func:`authorize_private`. Raises Forbidden.
    """
    if method.rule in (PUBLIC, WORKER):
        return
    if method.rule == PORTAL_VOUCHED:
        if set(method.callers) != {PORTAL}:  # a declaration error, refused at every call
            raise Forbidden(f"{method.name}: rule {PORTAL_VOUCHED} needs callers=(portal,)")
        return
    action = Action(method.rule)
    if _USER_RULES.get(action) in _RESOURCE_RULES:
        return
    actor = getattr(request, "actor", None)
    if not isinstance(actor, Principal):  # a declaration without an actor: refuse, never guess
        raise Forbidden(f"{method.name} names no actor for rule {method.rule}")
    authorize(actor, action)
