"""system.ping, answered by every service: liveness through the broker.

The optional hold (``delay_s``, capped) lets tests keep a call in flight across a SIGTERM.
"""

from __future__ import annotations

import asyncio

from common.amqp.rpc import RpcServer
from common.contracts.system import PING_ON, Ping, Pong

MAX_PING_DELAY_S = 30.0


def serve_ping(server: RpcServer, service: str, instance: str) -> None:
    """Serve the ``system.ping`` declared for ``server``'s queue."""

    async def ping(request: Ping) -> Pong:
        await asyncio.sleep(min(max(request.delay_s, 0.0), MAX_PING_DELAY_S))
        return Pong(service=service, instance=instance)

    server.serve(PING_ON[server.queue_name], ping)
