"""The compose stack for tests and benchmarks: the images built here with no registry
(deploy/build-images.sh), ``docker compose`` under a unique project name on free host ports,
and what a newcomer does next (log in, find ``transport``, run it as a job).

Nothing outside the project is touched: every container, network and volume carries the
project's compose label, job containers carry ``org.modelport.service=<project>``, and
:func:`leftovers` lists whatever of them remains.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelport.case import read_case
from modelport.client import PortalClient
from modelport.client.jobs import Jobs
from modelport.devstack.plan import free_port

REPO = Path(__file__).resolve().parents[2]
FILES = ("-f", "docker-compose.yml", "-f", "deploy/compose.local-images.yml")
TERMINAL = {"succeeded", "failed", "cancelled"}
LOGIN = re.compile(r"log in as (\S+) / (\S+)")
BUILD_TIMEOUT_S = 1800
UP_TIMEOUT_S = 1200


def build_images() -> dict[str, str]:
    """Build (or find, cached by content) every image of the stack; KEY → tag."""
    out = subprocess.run([str(REPO / "deploy/build-images.sh")], check=True, text=True,
                         capture_output=True, timeout=BUILD_TIMEOUT_S).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def docker_gid() -> str:
    """The group owning the engine's socket (the services join it)."""
    return str(os.stat("/var/run/docker.sock").st_gid)


def run(*args: str, env: Mapping[str, str] | None = None, timeout_s: float = 300,
        check: bool = True) -> str:
    """Run a command in the repository; its stdout. CalledProcessError carries stderr."""
    done = subprocess.run(args, cwd=REPO, env=dict(env) if env else None, text=True,
                          capture_output=True, timeout=timeout_s, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}:\n"
                             f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


@dataclass
class ComposeStack:
    """One compose project of the stack (see the module docstring)."""

    images: Mapping[str, str]
    project: str = field(default_factory=lambda: f"mp-test-{uuid.uuid4().hex[:8]}")
    port: int = field(default_factory=free_port)
    env_file: Path = field(init=False)

    def __post_init__(self) -> None:
        handle, name = tempfile.mkstemp(prefix=f"{self.project}-", suffix=".env")
        os.close(handle)
        self.env_file = Path(name)
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.images.items()))

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "MODELPORT_PORT": str(self.port),
                "MODELPORT_BIND": "127.0.0.1", "MODELPORT_RABBITMQ_UI_PORT": str(free_port()),
                "MODELPORT_DOCKER_GID": docker_gid(), "MODELPORT_DOCKER_SERVICE": self.project}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def compose(self, *args: str, timeout_s: float = 300, check: bool = True) -> str:
        return run("docker", "compose", "-p", self.project, "--env-file", str(self.env_file),
                   *FILES, *args, env=self.env, timeout_s=timeout_s, check=check)

    def up(self) -> None:
        """``up -d`` (returns once the services' dependencies were healthy), then wait for
        the one-shot ``bootstrap`` to end; AssertionError with its log when it failed."""
        self.compose("up", "-d", "--quiet-pull", timeout_s=UP_TIMEOUT_S)
        out = self.compose("wait", "bootstrap", timeout_s=UP_TIMEOUT_S, check=False).split()
        assert out[-1:] == ["0"], f"bootstrap ended with {out!r}:\n{self.logs('bootstrap')}"

    def logs(self, service: str) -> str:
        return self.compose("logs", "--no-color", "--no-log-prefix", service, check=False)

    def states(self) -> dict[str, dict[str, Any]]:
        """Service → ``docker compose ps -a`` entry (State, Health, ExitCode …)."""
        out = self.compose("ps", "-a", "--format", "json")
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        return {row["Service"]: row for row in rows}

    def admin_login(self) -> tuple[str, str]:
        """The admin and the generated password that ``bootstrap`` printed."""
        found = LOGIN.search(self.logs("bootstrap"))
        assert found, self.logs("bootstrap")
        return found.group(1), found.group(2)

    def down(self) -> None:
        self.compose("down", "-v", "--remove-orphans", "--timeout", "20", timeout_s=300)
        self.env_file.unlink(missing_ok=True)

    def leftovers(self) -> dict[str, list[str]]:
        """What of this stack the engine still has: containers, networks, volumes."""
        return leftovers(f"com.docker.compose.project={self.project}", self.project)


def leftovers(label: str, service: str) -> dict[str, list[str]]:
    """Containers, networks and volumes with ``label``, and job containers of ``service``."""
    def names(*args: str) -> list[str]:
        return sorted(run("docker", *args).split())

    return {"containers": names("ps", "-aq", "--filter", f"label={label}"),
            "jobs": names("ps", "-aq", "--filter", f"label=org.modelport.service={service}"),
            "networks": names("network", "ls", "-q", "--filter", f"label={label}"),
            "volumes": names("volume", "ls", "-q", "--filter", f"label={label}")}


@contextmanager
def compose_stack(images: Mapping[str, str]) -> Iterator[ComposeStack]:
    """A stack brought up and, whatever happens, taken down with its volumes."""
    stack = ComposeStack(images)
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


async def run_transport(url: str, user: str, password: str, tmp: Path) -> float:
    """Log in, check ``transport`` is published, run it as a job; its ``total_cost``."""
    async with PortalClient(url) as anonymous:
        token = str((await anonymous.login(user, password))["token"])
    async with PortalClient(url, token) as portal:
        apps = {a["name"]: a for a in await portal.list_apps()}
        assert apps.get("transport", {}).get("active_version"), apps
        jobs = Jobs(portal)
        job = await jobs.submit("transport")
        async for event in jobs.follow(str(job["id"])):
            if event.name in TERMINAL or event.name == "end":
                break
        done = await jobs.get(str(job["id"]))
        assert done["state"] == "succeeded", (done, await jobs.log(str(job["id"])))
        await jobs.download_result(str(job["id"]), tmp / "result.mpcase")
    return float(read_case((tmp / "result.mpcase").read_bytes()).values("total_cost"))


def seconds_since(start: float) -> float:
    return round(time.monotonic() - start, 1)
