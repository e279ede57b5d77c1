"""backend_svc under SIGTERM: an RPC call in flight is answered, then the process exits 0."""

from __future__ import annotations

from aio_pika.abc import AbstractRobustConnection

from common.amqp import topology
from common.amqp.rpc import RpcClient
from tests.services.inflight import sigterm_during_ping
from tests.services.procs import ServiceProcess


async def test_backend_answers_in_flight_call_after_sigterm(
    amqp_url: str, pg_dsn: str, amqp: AbstractRobustConnection, rpc_client: RpcClient
) -> None:
    env = {
        "MODELPORT_AMQP_URL": amqp_url,
        "MODELPORT_DATABASE_URL": pg_dsn,
        "MODELPORT_STATUS_PORT": "0",
    }
    backend = ServiceProcess("backend_svc", env)
    await backend.start()
    try:
        await backend.wait_for_event("service_started", timeout_s=60)
        await sigterm_during_ping(backend, amqp, rpc_client, topology.BACKEND_RPC)
        drained = await backend.wait_for_event("rpc_drained", timeout_s=1)
        assert (drained["finished"], drained["cut"]) == (1, 0)
    finally:
        await backend.kill()
