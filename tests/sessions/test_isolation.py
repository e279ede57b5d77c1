"""A session container reaches nothing: tried FROM INSIDE a real session container (its agent
opens the connections), against PostgreSQL, RabbitMQ, S3, the portal, a port the host serves
on every interface, the Docker API and another session's container — every host address the
container could aim at. The test's own side proves each target is alive."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from urllib.parse import urlparse

import pytest

from tests.sessions.platform import SessionPlatform
from tests.sessions.test_session_worker import through, user

pytestmark = pytest.mark.timeout(240)


def host_addresses() -> list[str]:
    """Every IPv4 address of this host but loopback (the container's loopback is its own)."""
    out = subprocess.run(["ip", "-4", "-o", "addr"], check=True, capture_output=True,
                         text=True).stdout
    return sorted({line.split()[3].split("/")[0] for line in out.splitlines()
                   if line.split()[1] != "lo"})


def address_of(container: str, network: str) -> str:
    out = subprocess.run(["docker", "inspect", container], check=True, capture_output=True,
                         text=True).stdout
    return str(json.loads(out)[0]["NetworkSettings"]["Networks"][network]["IPAddress"])


async def reachable_from_host(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


async def test_a_session_reaches_nothing(sessions: SessionPlatform) -> None:
    alice = await user(sessions, "alice")
    one = await sessions.ready(token=alice)
    other = await sessions.ready(token=alice)
    other_ip = address_of(sessions.container_of(other["id"]), sessions.network)
    wide_open = socket.create_server(("0.0.0.0", 0))  # the host serves on every interface
    try:
        ports = {
            "postgresql": 5432, "rabbitmq": 5672,
            "s3": urlparse(sessions.stack.s3_settings.endpoint_url).port,
            "portal": urlparse(sessions.stack.portal_url).port,
            "docker_tcp": 2375, "host_any_interface": wide_open.getsockname()[1],
        }
        targets = [(name, address, port) for address in host_addresses()
                   for name, port in ports.items()]
        targets.append(("other_session", other_ip, sessions.service.settings.agent_port))
        assert await reachable_from_host(other_ip, sessions.service.settings.agent_port)
        assert await reachable_from_host("127.0.0.1", ports["host_any_interface"])
        for name in ("postgresql", "rabbitmq", "s3", "portal"):
            assert await reachable_from_host("127.0.0.1", ports[name]), name

        async def attempt(address: str, port: int) -> str:
            status, reply, _ = await through(sessions, "GET", one["id"],
                                             f"connect?host={address}&port={port}", alice)
            assert status == 200, reply
            return str(reply["result"])

        results = await asyncio.gather(*(attempt(a, p) for _, a, p in targets))
        opened = [(t, r) for t, r in zip(targets, results, strict=True) if r == "open"]
        assert opened == [], opened
        assert len(results) >= 13
        status, docker_api, _ = await through(
            sessions, "GET", one["id"], "connect?path=/var/run/docker.sock", alice)
        assert docker_api["result"] in ("FileNotFoundError", "ConnectionRefusedError")
    finally:
        wide_open.close()
