"""The same compose file as a Docker Swarm stack (issue 9's acceptance): a single-node swarm,
two replicas of each service, one job solved, the stack removed, the swarm left, and the
engine's default bridge still working.

This machine's kernel has no IPVS, which Swarm's virtual IPs and routing mesh need, so the
stack runs with DNS round-robin and host-mode ports (``MODELPORT_SWARM_ENDPOINT_MODE=dnsrr``,
``MODELPORT_SWARM_PORT_MODE=host``): each portal replica gets its own host port, and the job
runs through each of them in turn.

The engine is shared with other tests, so the swarm lives only inside this test: ``docker
swarm leave --force`` and the network repair run in ``finally`` whatever happened.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from modelport.devstack.plan import free_port
from tests.deploy.stack import REPO, docker_gid, leftovers, run, run_transport

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3000)]
SERVICES = ("backend", "portal", "session", "solve")
DEPLOY_TIMEOUT_S = 1200


def _swarm_state() -> str:
    return run("docker", "info", "--format", "{{.Swarm.LocalNodeState}}").strip()


def _restore_networking() -> None:
    """Leave the swarm and remove what ``swarm init`` made (docker_gwbridge), so the
    default bridge works as before (MACHINE-NOTES)."""
    run("docker", "swarm", "leave", "--force", check=False)
    run("docker", "network", "rm", "docker_gwbridge", check=False)
    if subprocess.run(["ip", "link", "show", "docker_gwbridge"], capture_output=True,
                      check=False).returncode == 0:
        subprocess.run(["ip", "link", "del", "docker_gwbridge"], check=False)


def _replicas() -> dict[str, str]:
    out = run("docker", "service", "ls", "--format", "{{json .}}")
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {row["Name"]: row["Replicas"] for row in rows}


def _wait_for(what: str, check: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} not reached in {timeout_s:g} s: {_replicas()}"
        time.sleep(1.0)  # polling the swarm's own state, bounded by the deadline


def _bootstrap_done(stack: str) -> bool:
    out = run("docker", "service", "ps", f"{stack}_bootstrap", "--format", "{{.CurrentState}}")
    return any(line.startswith("Complete") for line in out.splitlines())


def _portal_ports(stack: str) -> list[int]:
    """The host ports of the portal's tasks (host mode: one free port each)."""
    out = run("docker", "ps", "--filter", f"label=com.docker.swarm.service.name={stack}_portal",
              "--format", "{{.Ports}}")
    return sorted({int(m) for m in re.findall(r":(\d+)->8080/tcp", out)})  # IPv4 and IPv6


def _all_running(stack: str) -> bool:
    found = _replicas()
    return all(found.get(f"{stack}_{name}") == "2/2" for name in SERVICES) and all(
        found.get(f"{stack}_{name}") == "1/1" for name in ("postgres", "rabbitmq", "s3"))


async def test_stack_deploys_with_two_replicas_runs_a_job_and_leaves_no_trace(
    images: dict[str, str], tmp_path: Path,
) -> None:
    assert _swarm_state() == "inactive", "this engine is already in a swarm: not touching it"
    stack = f"mptest{uuid.uuid4().hex[:6]}"
    env_file = tmp_path / "images.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in images.items()))
    env = {**os.environ, "MODELPORT_PORT": str(free_port()), "MODELPORT_RABBITMQ_UI_PORT":
           str(free_port()), "MODELPORT_DOCKER_GID": docker_gid(),
           "MODELPORT_DOCKER_SERVICE": stack, "MODELPORT_SWARM_STATE": str(tmp_path / "state"),
           "MODELPORT_SWARM_REPLICAS": "2", "MODELPORT_ADMIN_PASSWORD": "",
           "MODELPORT_SWARM_ENDPOINT_MODE": "dnsrr", "MODELPORT_SWARM_PORT_MODE": "host"}
    swarm = str(REPO / "deploy/swarm.sh")
    try:
        run("docker", "swarm", "init", "--advertise-addr", "127.0.0.1")
        try:
            run(swarm, "up", stack, "--env-file", str(env_file), "-f", "docker-compose.yml",
                "-f", "deploy/compose.local-images.yml", env=env, timeout_s=DEPLOY_TIMEOUT_S)
            _wait_for("two replicas of each service", lambda: _all_running(stack),
                      DEPLOY_TIMEOUT_S)
            _wait_for("bootstrap complete", lambda: _bootstrap_done(stack), DEPLOY_TIMEOUT_S)
            password = (tmp_path / "state/secrets/admin_password").read_text().strip()
            portals = _portal_ports(stack)
            assert len(portals) == 2, portals
            total = await run_transport(f"http://127.0.0.1:{portals[0]}", "admin", password,
                                        tmp_path)
            assert total == pytest.approx(153.675)
        finally:
            run(swarm, "down", stack, "--volumes", env=env, timeout_s=300, check=False)
        left = leftovers(f"com.docker.stack.namespace={stack}", stack)
        assert left == {"containers": [], "jobs": [], "networks": [], "volumes": []}
    finally:
        _restore_networking()
    assert _swarm_state() == "inactive"
    subnet = run("docker", "network", "inspect", "bridge", "--format",
                 "{{(index .IPAM.Config 0).Subnet}}").strip()
    out = run("docker", "run", "--rm", images["MODELPORT_SERVICE_IMAGE"], "python", "-c",
              "import socket; print(socket.gethostbyname(socket.gethostname()))")
    assert ipaddress.ip_address(out.strip()) in ipaddress.ip_network(subnet), (out, subnet)
