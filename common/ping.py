"""system.ping, answered by every service: liveness through the broker.

The optional hold (``delay_s``, capped) lets tests keep a call in flight across a SIGTERM.
"""

from __future__ import annotations

import asyncio

from common.amqp.rpc import RpcServer
from common.contracts.system import PING, Ping, Pong

MAX_PING_DELAY_S = 30.0


def register_ping(server: RpcServer, service: str, instance: str) -> None:
    async def ping(request: Ping) -> Pong:
        await asyncio.sleep(min(max(request.delay_s, 0.0), MAX_PING_DELAY_S))
        return Pong(service=service, instance=instance)

    server.register(PING, Ping, ping)
