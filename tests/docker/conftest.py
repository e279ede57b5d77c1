"""Fixtures for the Docker layer: the runtime image, a per-test service label whose containers
and volumes are swept after the test. The engine is ``docker_engine`` (tests/conftest.py): the
one the set-up checked; a missing engine fails these tests."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from common.docker import DockerHost, HostConfig, adopt_or_sweep
from tests.support import engines

REPO = Path(__file__).resolve().parents[2]


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
    try:
        engines.ping(engines.docker_url())
    except (OSError, engines.Missing):
        return  # no engine: nothing to sweep (the tests that needed it have failed)
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
