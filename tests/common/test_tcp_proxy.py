"""The test TCP proxy: forwards, cuts live connections, refuses while cut, restores."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aio_pika
import pytest

from common.amqp.connection import connect
from tests.support.tcp_proxy import TcpProxy


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


@pytest.fixture
async def proxy(echo_port: int) -> AsyncIterator[TcpProxy]:
    async with TcpProxy("127.0.0.1", echo_port) as proxy:
        yield proxy


async def _round_trip(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        return await reader.readexactly(len(payload))
    finally:
        writer.close()


async def _is_dropped(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), 5) == b""
    except ConnectionResetError:
        return True


async def test_forwards_both_ways(proxy: TcpProxy) -> None:
    payload = bytes(range(256)) * 1024
    assert await _round_trip(proxy.port, payload) == payload
    assert proxy.accepted == 1


async def test_cut_drops_live_connections_and_refuses_new(proxy: TcpProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"ping")
    assert await reader.readexactly(4) == b"ping"

    await proxy.cut()

    assert await _is_dropped(reader)
    assert proxy.connections == 0
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.close()


async def test_restore_accepts_again_on_the_same_port(proxy: TcpProxy) -> None:
    port = proxy.port
    await proxy.cut()
    await proxy.restore()
    assert proxy.port == port
    assert await _round_trip(port, b"again") == b"again"


async def test_leaving_the_context_closes_everything(echo_port: int) -> None:
    async with TcpProxy("127.0.0.1", echo_port) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"x")
        await reader.readexactly(1)
    assert await _is_dropped(reader)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.close()


async def test_unreachable_target_closes_the_client() -> None:
    async with TcpProxy("127.0.0.1", 1) as proxy:  # nothing listens on port 1
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await _is_dropped(reader)
        writer.close()
        assert proxy.accepted == 0


async def test_robust_amqp_connection_comes_back_after_a_cut(amqp_url: str) -> None:
    host_port = amqp_url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    async with TcpProxy(host, int(port)) as proxy:
        url = amqp_url.replace(host_port, f"127.0.0.1:{proxy.port}") + "?reconnect_interval=0.1"
        connection = await connect(url, deadline_s=10, name="proxy-test")
        reconnected = asyncio.Event()
        connection.reconnect_callbacks.add(lambda *_: reconnected.set())
        try:
            channel = await connection.channel()
            queue = await channel.declare_queue(exclusive=True)

            await proxy.cut()
            await proxy.restore()
            await asyncio.wait_for(reconnected.wait(), 20)

            await channel.default_exchange.publish(aio_pika.Message(b"after"), queue.name)
            message = await queue.get(timeout=5)
            assert message.body == b"after"
            await message.ack()
            assert proxy.accepted >= 2
        finally:
            await connection.close()
