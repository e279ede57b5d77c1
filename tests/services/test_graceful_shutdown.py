"""SIGTERM while an RPC call is in flight: the call is answered, then the process exits 0."""

from __future__ import annotations

import asyncio
import signal

import pytest
from aio_pika.abc import AbstractRobustConnection

from common.amqp import topology
from common.amqp.rpc import RpcClient
from common.contracts.system import PING_ON, Ping
from tests.services.inflight import slow_ping_in_flight
from tests.services.procs import ServiceProcess, readyz
from tests.support.ports import free_port

WORKERS = [("session_svc", topology.SESSION_RPC), ("solve_svc", topology.SOLVE_RPC)]


@pytest.mark.parametrize(("module", "rpc_queue"), WORKERS)
async def test_worker_answers_in_flight_call_after_sigterm(
    module: str, rpc_queue: str, amqp_url: str, amqp: AbstractRobustConnection,
    rpc_client: RpcClient,
) -> None:
    port = free_port()
    service = ServiceProcess(
        module, {"MODELPORT_AMQP_URL": amqp_url, "MODELPORT_STATUS_PORT": str(port)}
    )
    await service.start()
    try:
        await service.wait_for_event("service_started")
        assert await readyz(port) == 200
        async with slow_ping_in_flight(amqp, rpc_client, rpc_queue, delay_s=2) as reply:
            service.signal(signal.SIGTERM)
            await service.wait_for_event("draining_rpc")
            assert await readyz(port) == 503  # draining: no longer takes work
            assert (await asyncio.wait_for(reply, 30)).service == module.removesuffix("_svc")
        assert await service.wait() == 0, service.log_tail()
        drained = await service.wait_for_event("rpc_drained", timeout_s=1)
        assert (drained["finished"], drained["cut"]) == (1, 0)
    finally:
        await service.kill()


@pytest.mark.parametrize(("module", "rpc_queue"), WORKERS)
async def test_worker_exits_cleanly_when_idle(
    module: str, rpc_queue: str, amqp_url: str, rpc_client: RpcClient
) -> None:
    service = ServiceProcess(module, {"MODELPORT_AMQP_URL": amqp_url, "MODELPORT_STATUS_PORT": "0"})
    await service.start()
    try:
        await service.wait_for_event("service_started")
        pong = await rpc_client.call_method(PING_ON[rpc_queue], Ping(), timeout_s=10)
        assert pong.service == module.removesuffix("_svc")
        service.signal(signal.SIGINT)
        assert await service.wait() == 0, service.log_tail()
    finally:
        await service.kill()


async def test_modelport_serve_runs_the_service(amqp_url: str, rpc_client: RpcClient) -> None:
    env = {"MODELPORT_AMQP_URL": amqp_url, "MODELPORT_STATUS_PORT": "0"}
    service = ServiceProcess("modelport", env, args=("serve", "solve"))
    await service.start()
    try:
        await service.wait_for_event("service_started")
        pong = await rpc_client.call_method(PING_ON[topology.SOLVE_RPC], Ping(), timeout_s=10)
        assert pong.service == "solve"
        service.signal(signal.SIGTERM)
        assert await service.wait() == 0, service.log_tail()
    finally:
        await service.kill()
