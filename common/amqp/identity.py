"""Who sent an AMQP message, and may they send it (docs/security.md).

Each service role connects with its own broker user and stamps every message it publishes with
the AMQP ``user_id`` property; RabbitMQ refuses a message whose ``user_id`` is not the
connection's user, so on the receiving side ``user_id`` names the sender. A role map (the
``MODELPORT_BROKER_ROLES`` setting: broker user → role) turns it into a role, which
:class:`CallerCheck` holds against what the method declares.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from aio_pika.abc import AbstractRobustConnection
from pydantic import BaseModel
from yarl import URL

from common.contracts.base import Principal
from common.contracts.method import BACKEND, PORTAL, SESSION_WORKER, SOLVE_WORKER
from common.errors import Forbidden

WORKER_ROLES = (SESSION_WORKER, SOLVE_WORKER)
END_USER_SENDERS = (PORTAL, SESSION_WORKER)
"""Roles that may carry an end user's actor (the session worker acts for a session's owner)."""


def broker_user(connection: AbstractRobustConnection) -> str | None:
    """The user name this connection logged in with (the ``user_id`` its messages carry);
    None when the URL names none (the broker's default user: the property is then left out)."""
    url: URL | None = getattr(connection, "url", None)  # aio_pika's Connection, not its ABC
    return (url.user or None) if url is not None else None


def owns_worker_name(user: str, worker: str) -> bool:
    """A worker's name is its broker user, or begins with ``<user>.`` (one user, many hosts)."""
    return worker == user or worker.startswith(user + ".")


@dataclass(frozen=True)
class Caller:
    """The sender of the message being handled; ``role`` is None when roles are not enforced."""

    user: str
    role: str | None


_current: ContextVar[Caller | None] = ContextVar("modelport_caller", default=None)


def current_caller() -> Caller | None:
    """The caller of the RPC being handled in this task, if any."""
    return _current.get()


@contextmanager
def calling_as(caller: Caller) -> Iterator[None]:
    token = _current.set(caller)
    try:
        yield
    finally:
        _current.reset(token)


class CallerCheck:
    """The broker-identity rules of one RPC server.

    ``roles`` maps broker users to roles; None (the single-user development set-up) enforces
    nothing, because every service then sends as the same user.
    """

    def __init__(self, roles: Mapping[str, str] | None):
        self.roles = dict(roles) if roles is not None else None

    @property
    def enforced(self) -> bool:
        return self.roles is not None

    def check(
        self, method: str, callers: tuple[str, ...] | None, user: str, request: BaseModel
    ) -> Caller:
        """The caller, or Forbidden naming the rule it breaks."""
        if self.roles is None:
            return Caller(user, None)
        role = self.roles.get(user)
        if role is None:
            raise Forbidden(f"broker user {user!r} has no role here", code="unknown_caller")
        if callers is not None and role not in callers:
            raise Forbidden(f"the {role} role may not call {method} (allowed: "
                            f"{', '.join(callers)})", code="caller_not_allowed")
        actor = getattr(request, "actor", None)
        if isinstance(actor, Principal):
            _check_actor(role, actor)
        worker = getattr(request, "worker", None)
        if isinstance(worker, str) and role in WORKER_ROLES and not owns_worker_name(user, worker):
            raise Forbidden(f"broker user {user!r} may not report as worker {worker!r}",
                            code="worker_not_yours")
        return Caller(user, role)


def _check_actor(role: str, actor: Principal) -> None:
    if actor.system and role != BACKEND:
        raise Forbidden(f"the {role} role may not act as the system", code="system_actor_refused")
    if not actor.system and role not in END_USER_SENDERS:
        raise Forbidden(f"the {role} role may not act for a user", code="user_actor_refused")
