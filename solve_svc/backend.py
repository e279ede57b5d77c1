"""What a solve worker says to backend: the declared ``WorkerMethods`` on ``BACKEND_RPC``.

``await link.send(WorkerMethods.STARTED, message)`` returns the method's reply contract; see
:class:`~common.amqp.method_client.MethodClient` for what a call raises (Unavailable
``backend_unavailable`` while the broker link is down, so callers retry or wait for the lease
instead of crashing).
"""

from __future__ import annotations

from common.amqp.method_client import MethodClient
from common.amqp.rpc import RpcClient


class BackendLink(MethodClient):
    def __init__(self, rpc: RpcClient) -> None:
        super().__init__(rpc, message="backend cannot be reached: the broker link is down")
