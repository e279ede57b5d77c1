"""One declaration per RPC method: the single place its facts are written.

A :class:`Method` names the wire method, its request and reply contracts, the queue of the
service that serves it, the policy rule that guards it and the broker roles that may send it.
Everything else is derived from it: the server's registration (:meth:`RpcServer.serve_all
<common.amqp.rpc.RpcServer.serve_all>` finds handlers marked with :func:`implements`), the
typed client call (:meth:`RpcClient.call_method <common.amqp.rpc.RpcClient.call_method>`
returns ``method.reply``), the AsyncAPI catalog and the policy check.

Adding a method: declare it in its family's class of the method table
(:mod:`common.contracts.methods`); write its handler with ``@implements(TheMethod)``. Nothing
else changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

Req = TypeVar("Req", bound=BaseModel)
Rep = TypeVar("Rep", bound=BaseModel)

PORTAL = "portal"
BACKEND = "backend"
SESSION_WORKER = "session_worker"
SOLVE_WORKER = "solve_worker"
ROLES = (PORTAL, BACKEND, SESSION_WORKER, SOLVE_WORKER)
"""Broker roles: each service role connects as its own broker user (docs/security.md)."""

IMPLEMENTS_ATTR = "__modelport_method__"


@dataclass(frozen=True)
class Method(Generic[Req, Rep]):
    """An RPC method: ``name`` on the wire, served from the queue ``server``.

    ``rule`` is the policy rule that decides who may call it: an action of the serving
    service's policy module (backend: :class:`backend_svc.policy.Action`), or ``"worker"`` for
    reports only workers send. ``callers`` are the broker roles allowed to send it.
    """

    name: str
    request: type[Req]
    reply: type[Rep]
    server: str
    rule: str
    summary: str
    callers: tuple[str, ...] = field(default=(PORTAL,))

    def __post_init__(self) -> None:
        unknown = set(self.callers) - set(ROLES)
        if unknown:
            raise ValueError(f"{self.name}: unknown caller roles {sorted(unknown)}")


AnyMethod = Method[Any, Any]
Handler = Callable[[Any], Awaitable[BaseModel]]
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def implements(method: AnyMethod) -> Callable[[F], F]:
    """Mark a handler (a coroutine function or method taking ``method.request``)."""

    def mark(handler: F) -> F:
        setattr(handler, IMPLEMENTS_ATTR, method)
        return handler

    return mark


def declared_in(namespace: type) -> list[AnyMethod]:
    """The methods a family's namespace class declares, in the order written (its ``METHODS``)."""
    return [value for value in vars(namespace).values() if isinstance(value, Method)]


def handlers_of(owner: object) -> list[tuple[AnyMethod, Handler]]:
    """Every ``(method, bound handler)`` that ``owner``'s class marks with :func:`implements`."""
    found = []
    for name in dir(type(owner)):
        method = getattr(getattr(type(owner), name, None), IMPLEMENTS_ATTR, None)
        if isinstance(method, Method):
            found.append((method, getattr(owner, name)))
    return found
