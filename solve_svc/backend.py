"""What a solve worker says to backend: the declared ``WorkerMethods`` on ``BACKEND_RPC``.

``await link.send(WorkerMethods.STARTED, message)`` returns the method's reply contract; see
:class:`~common.amqp.method_client.MethodClient` for what a call raises (BrokerUnavailable
``broker_unavailable`` while the broker link is down, so callers retry or wait for the lease
instead of crashing).
"""

from __future__ import annotations

from common.amqp.method_client import MethodClient


class BackendLink(MethodClient):
    """The solve worker's calls to backend."""
