"""Fixtures for the Docker layer: the local engine, the runtime image, a per-test service
label whose containers and volumes are swept after the test."""

from __future__ import annotations

import http.client
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from common.docker import DockerHost, HostConfig, adopt_or_sweep
from common.docker.settings import LOCAL_SOCKET

REPO = Path(__file__).resolve().parents[2]
SOCKET = LOCAL_SOCKET.removeprefix("unix://")


class _UnixHTTP(http.client.HTTPConnection):
    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(3)
        self.sock.connect(SOCKET)


def _engine_answers() -> bool:
    try:
        conn = _UnixHTTP("localhost")
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def docker_engine() -> str:
    """The local engine's URL; skips the test when no engine answers there."""
    if not _engine_answers():
        pytest.skip(f"no Docker engine answers at {LOCAL_SOCKET} (start dockerd to run these)")
    return LOCAL_SOCKET


@pytest.fixture(scope="session")
def runtime_image(docker_engine: str) -> str:
    """Id of the runtime image (built once by deploy/runtime, cached by content)."""
    tag = subprocess.run(
        [str(REPO / "deploy/runtime/build-runtime-image.sh")], check=True, text=True,
        capture_output=True,
    ).stdout.strip().splitlines()[-1]
    return subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", tag], check=True, text=True,
        capture_output=True,
    ).stdout.strip()


SESSION = f"mp-test-{uuid.uuid4().hex[:6]}"


def _ours(kind: str, what: str) -> list[str]:
    """Ids (containers) or names (volumes) whose service label is one of this session's."""
    fmt = "{{." + what + '}} {{.Label "org.modelport.service"}}'
    out = subprocess.run(["docker", kind, "ls", "--format", fmt,
                          *(["-a"] if kind == "container" else []),
                          "--filter", "label=org.modelport.service"],
                         capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines()
            if line.split()[1:2] and line.split()[1].startswith(SESSION)]


@pytest.fixture(scope="session", autouse=True)
def _final_sweep() -> Iterator[None]:
    """Backstop: whatever a test left behind under this session's labels is removed."""
    yield
    if _engine_answers():
        for container in _ours("container", "ID"):
            subprocess.run(["docker", "rm", "-f", "-v", container], capture_output=True)
        for volume in _ours("volume", "Name"):
            subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True)


@pytest.fixture
def service() -> str:
    """A service label value unique to this test: the sweep touches nothing else."""
    return f"{SESSION}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def host(docker_engine: str, service: str) -> AsyncIterator[DockerHost]:
    """The local engine as a pool host; every container and volume of the test's service is
    removed afterwards."""
    async with DockerHost(HostConfig(name="local", url=docker_engine), service=service) as h:
        try:
            yield h
        finally:
            await adopt_or_sweep(h, [])
