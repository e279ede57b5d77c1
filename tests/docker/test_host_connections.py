"""A Docker host keeps answering while more than a hundred requests hold a connection.

Every open data session holds one connection to its engine (the agent's attached stdin and
stdout) for as long as it runs. aiohttp's default pool of 100 connections made the 101st
request wait for one to end: with about 90 sessions open the host's health ping timed out and
the host was marked down (found by bench/many_sessions.py)."""

from __future__ import annotations

import asyncio
import contextlib

from common.docker import DockerHost, HostConfig

HELD = 120  # more than aiohttp's default limit of 100


async def test_ping_and_list_answer_while_120_streams_are_open(docker_engine: str) -> None:
    async with DockerHost(HostConfig(name="local", url=docker_engine),
                          service="mp-test-conns") as host, contextlib.AsyncExitStack() as held:
        async with asyncio.timeout(60):  # with a limit of 100, the 101st would wait forever
            for _ in range(HELD):  # an event stream never ends: it holds its connection
                reply = await held.enter_async_context(host.docker._query("events"))
                assert reply.status == 200
        assert await host.ping(timeout_s=10.0)
        assert await host.ours(all_states=True) == []
