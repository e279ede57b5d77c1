"""Contracts every service answers: ping."""

from __future__ import annotations

from common.contracts.base import Contract


class Ping(Contract):
    delay_s: float = 0.0  # lets tests hold a call in flight; capped by the handler


class Pong(Contract):
    service: str
    instance: str


PING = "system.ping"  # Ping -> Pong, served by every service on its RPC queue
