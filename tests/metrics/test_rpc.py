"""RPC latency series by outcome, against the real broker: every outcome a server or a caller
can see lands under its own label, and only under it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aio_pika.abc import AbstractRobustConnection

from common.amqp.connection import connect
from common.amqp.rpc import RpcClient, RpcServer
from common.contracts.method import Method
from common.contracts.system import Ping, Pong
from common.errors import BadRequest, ModelportError, NotFound, RpcTimeout, Unavailable
from common.metrics import ServiceMetrics
from tests.metrics.support import sample_value
from tests.metrics.test_collectors import read

QUEUE = "metrics-test.rpc"
SERVER = "modelport_rpc_server_duration_seconds"
CLIENT = "modelport_rpc_client_duration_seconds"


async def _pong(request: Ping) -> Pong:
    await asyncio.sleep(min(request.delay_s, 5))
    return Pong(service="test", instance="one")


async def _refuse(request: Ping) -> Pong:
    raise BadRequest("no thanks")


async def _crash(request: Ping) -> Pong:
    raise RuntimeError("a bug")


@dataclass
class Pair:
    client: RpcClient
    server_metrics: ServiceMetrics
    client_metrics: ServiceMetrics
    connection: AbstractRobustConnection


@pytest.fixture
async def pair(amqp_url: str) -> AsyncIterator[Pair]:
    connection = await connect(amqp_url, deadline_s=10, name="metrics-rpc-test")
    server_metrics, client_metrics = ServiceMetrics("s"), ServiceMetrics("c")
    server = RpcServer(connection, QUEUE, prefetch=8, metrics=server_metrics.rpc_server)
    for name, handler in (("t.ping", _pong), ("t.refuse", _refuse), ("t.crash", _crash)):
        server.serve(Method(name, Ping, Pong, QUEUE, "public", "A test method."), handler)
    await server.start()
    client = RpcClient(connection, timeout_s=5, metrics=client_metrics.rpc_client)
    await client.start()
    try:
        yield Pair(client, server_metrics, client_metrics, connection)
    finally:
        await client.stop()
        await server.drain(1)
        await connection.close()


async def test_each_outcome_has_its_label_on_both_sides(pair: Pair) -> None:
    await pair.client.call(QUEUE, "t.ping", Ping(), Pong)
    with pytest.raises(BadRequest):
        await pair.client.call(QUEUE, "t.refuse", Ping(), Pong)
    with pytest.raises(ModelportError):
        await pair.client.call(QUEUE, "t.crash", Ping(), Pong)
    with pytest.raises(NotFound):
        await pair.client.call(QUEUE, "t.nothing", Ping(), Pong)

    served = await read(pair.server_metrics)
    assert {(s.labels["method"], s.labels["outcome"]): s.value
            for s in served[SERVER].samples if s.name == SERVER + "_count"} == {
        ("t.ping", "ok"): 1, ("t.refuse", "refused"): 1, ("t.crash", "failed"): 1,
        ("unknown", "refused"): 1}
    called = await read(pair.client_metrics)
    assert {(s.labels["method"], s.labels["outcome"]): s.value
            for s in called[CLIENT].samples if s.name == CLIENT + "_count"} == {
        ("t.ping", "ok"): 1, ("t.refuse", "refused"): 1, ("t.crash", "refused"): 1,
        ("t.nothing", "refused"): 1}


async def test_a_slow_call_is_timed_as_it_took(pair: Pair) -> None:
    await pair.client.call(QUEUE, "t.ping", Ping(delay_s=0.3), Pong)
    served = await read(pair.server_metrics)
    assert sample_value(served, SERVER, "_sum", method="t.ping") >= 0.3
    assert sample_value(served, SERVER, "_bucket", method="t.ping", le="0.25") == 0
    assert sample_value(served, SERVER, "_bucket", method="t.ping", le="0.5") == 1
    called = await read(pair.client_metrics)
    assert sample_value(called, CLIENT, "_sum", server=QUEUE, method="t.ping") >= 0.3


async def test_caller_counts_timeouts_and_missing_servers(pair: Pair) -> None:
    channel = await pair.connection.channel()
    silent = await channel.declare_queue("metrics-test.silent", auto_delete=True)
    with pytest.raises(RpcTimeout):
        await pair.client.call(silent.name, "t.ping", Ping(), Pong, timeout_s=0.3)
    with pytest.raises(Unavailable) as caught:
        await pair.client.call("metrics-test.nobody", "t.ping", Ping(), Pong)
    assert caught.value.code == "no_server"
    called = await read(pair.client_metrics)
    assert sample_value(called, CLIENT, "_count", server=silent.name, outcome="timeout") == 1
    assert sample_value(called, CLIENT, "_count", server="metrics-test.nobody",
                        outcome="no_server") == 1
    assert sample_value(called, CLIENT, "_sum", server=silent.name) >= 0.3
    await channel.close()
