"""Contracts every service answers: ping."""

from __future__ import annotations

from common.amqp.topology import BACKEND_RPC, SESSION_RPC, SOLVE_RPC
from common.contracts.base import Contract
from common.contracts.method import ROLES, Method


class Ping(Contract):
    delay_s: float = 0.0  # lets tests hold a call in flight; capped by the handler


class Pong(Contract):
    service: str
    instance: str


def _ping(server: str) -> Method[Ping, Pong]:
    return Method("system.ping", Ping, Pong, server, "public", "Liveness through the broker.",
                  callers=ROLES)


PING_ON: dict[str, Method[Ping, Pong]] = {q: _ping(q) for q in (BACKEND_RPC, SESSION_RPC,
                                                                  SOLVE_RPC)}
"""``system.ping``, served by every service on its own RPC queue."""
METHODS = list(PING_ON.values())
