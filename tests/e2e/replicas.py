"""The whole platform as N replicas of every service, each its own ``python -m`` process, for
tests and the chaos bench that kill them: backend, portal, session and solve workers on one
database, vhost, bucket and Docker engine (the caller's, or ones the caller started).

    async with running_replicas(infra, tmp, runtime=runtime, label=label) as p:
        job = await p.submit("sleeper", "sleep", input_case_id=case)
        await p.kill(p.of("solve")[0])            # kill -9
        await p.call("GET", "/api/v1/jobs")        # through a portal still alive

The real runtime is uploaded and the example apps published through the API. Every container
carries ``label``; they, the sessions' network and its firewall rules go at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.fernet import Fernet

from common.docker import HostConfig
from common.packages import load_platform_key, pack_app
from common.settings import S3Settings
from tests.e2e.platform import APPS, TERMINAL_STATES, case_file, drop_sessions_network, sweep
from tests.e2e.runtime import E2ERuntime
from tests.services.procs import ServiceProcess
from tests.support.events import EventTap
from tests.support.ports import free_port
from tests.support.stack import ADMIN_PASSWORD, ADMIN_USER, EXAMPLES, _make_keys

KINDS = ("backend", "solve", "session", "portal")  # start order
READY = {"backend": "backend_ready", "portal": "portal_listening",
         "solve": "solve_worker_ready", "session": "session_worker_ready"}
MODULES = {kind: f"{kind}_svc" for kind in KINDS}


@dataclass(frozen=True)
class Infra:
    """Where the platform's servers are: PostgreSQL, RabbitMQ (vhost), S3, Docker."""

    pg_dsn: str
    amqp_url: str
    s3: S3Settings
    docker_url: str


@dataclass
class Replica:
    name: str  # e.g. ``solve-1``: also its instance id
    kind: str
    process: ServiceProcess
    port: int = 0  # the portal's HTTP port

    @property
    def alive(self) -> bool:
        return not self.process.exited


@dataclass
class Replicas:
    """A running replicated platform; see the module docstring."""

    infra: Infra
    label: str
    tap: EventTap  # modelport.# since before the first job
    tmp: Path
    envs: dict[str, dict[str, str]]  # environment of each kind (service_env)
    admin_token: str = ""
    replicas: list[Replica] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)  # portal name -> its HTTP port
    retired: list[Replica] = field(default_factory=list)  # dead ones restarted: their logs

    def of(self, kind: str) -> list[Replica]:
        """The live replicas of ``kind``, in start order."""
        return [r for r in self.replicas if r.kind == kind and r.alive]

    @property
    def portal_url(self) -> str:
        return f"http://127.0.0.1:{self.of('portal')[0].port}"

    async def restart(self, replica: Replica) -> Replica:
        """Start the (dead) ``replica`` again under the same instance id."""
        self.replicas.remove(replica)
        self.retired.append(replica)
        return await self.start(replica.kind, self.envs[replica.kind], replica.name)

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """A REST call as the admin through the first live portal; (status, JSON or bytes)."""
        headers = {"Authorization": f"Bearer {self.admin_token}", **kwargs.pop("headers", {})}
        timeout = aiohttp.ClientTimeout(total=kwargs.pop("timeout_s", 60))
        async with aiohttp.ClientSession(timeout=timeout) as http, http.request(
            method, self.portal_url + path, headers=headers, **kwargs
        ) as resp:
            body = await resp.read()
            ctype = resp.headers.get("Content-Type", "")
            return resp.status, (json.loads(body) if "json" in ctype and body else body)

    async def submit(self, app: str, procedure: str = "solve", **fields: Any) -> str:
        status, job = await self.call("POST", "/api/v1/jobs",
                                      json={"app": app, "procedure": procedure, **fields})
        assert status == 202, job
        return str(job["id"])

    async def upload(self, path: str, file: Path, **params: str) -> dict[str, Any]:
        data = await asyncio.to_thread(file.read_bytes)
        status, body = await self.call("POST", path, data=data, params=params, timeout_s=300,
                                       headers={"Content-Type": "application/octet-stream"})
        assert status == 201, body
        return dict(body)

    async def upload_case(self, app: str, data: dict[str, Any] | None = None) -> str:
        """Upload a case of ``app`` (its defaults overlaid with ``data``); return its id."""
        path = case_file(self.tmp, app, data)
        return str((await self.upload("/api/v1/cases", path, app=app, name=path.stem))["id"])

    async def settled(self, ids: list[str], timeout_s: float = 240.0) -> list[dict[str, Any]]:
        """The jobs once each is terminal (asks the API every 0.5 s; a 5xx is asked again).
        Past ``timeout_s`` it fails with the unsettled jobs and what the live backends and
        solve workers logged last."""
        answers: list[tuple[int, Any]] = []
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    answers = [await self.call("GET", f"/api/v1/jobs/{i}") for i in ids]
                    jobs = [dict(body) for status, body in answers if status == 200]
                    if len(jobs) == len(ids) and all(j["state"] in TERMINAL_STATES
                                                     for j in jobs):
                        return jobs
                    await asyncio.sleep(0.5)
        except TimeoutError:
            unsettled = [(s, {k: b.get(k) for k in ("id", "state", "reason", "attempt",
                                                      "worker")} if isinstance(b, dict) else b)
                         for s, b in answers
                         if s != 200 or b.get("state") not in TERMINAL_STATES]
            logs = "\n".join(f"--- {r.name}\n{r.process.log_tail(30)}" for r in self.replicas
                             if r.kind in ("backend", "solve") and r.alive)
            raise AssertionError(f"not settled in {timeout_s} s: {unsettled}\n{logs}") from None

    async def kill(self, replica: Replica) -> None:
        """kill -9, and wait until it is gone."""
        replica.process.signal(signal.SIGKILL)
        await replica.process.wait()

    async def start(self, kind: str, env: dict[str, str], name: str | None = None) -> Replica:
        """One more replica of ``kind`` (``name`` reuses an instance id: a restart)."""
        name = name or f"{kind}-{sum(r.kind == kind for r in self.replicas)}"
        if kind == "portal" and name in self.ports:
            port = self.ports[name]  # a load balancer in front would still point there
        else:
            port = free_port() if kind == "portal" else 0
        self.ports[name] = port
        extra = {"MODELPORT_INSTANCE_ID": name, "MODELPORT_STATUS_PORT": "0"}
        if kind == "portal":
            extra |= {"MODELPORT_PORT": str(port), "MODELPORT_STATUS_PORT": str(free_port())}
        process = ServiceProcess(MODULES[kind], {**env, **extra})
        await process.start()
        replica = Replica(name, kind, process, port)
        self.replicas.append(replica)
        await process.wait_for_event(READY[kind], timeout_s=120)
        return replica

    async def stop(self) -> None:
        for replica in reversed(self.replicas):
            if replica.alive:
                replica.process.signal(signal.SIGTERM)
        for replica in self.replicas:
            try:
                await replica.process.wait(timeout_s=20)
            except TimeoutError:
                await replica.process.kill()


def service_env(infra: Infra, tmp: Path, runtime: E2ERuntime, label: str, network: str, *,
                lease_ttl_s: float, solve_slots: int, session_slots: int,
                session_lease_ttl_s: float | None = None,
                solve_hosts: list[dict[str, Any]] | None = None,
                session_hosts: list[dict[str, Any]] | None = None) -> dict[str, dict[str, str]]:
    """The environment of each kind of service (its instance id and ports are added per
    replica)."""
    keys = tmp / "keys"
    common = {"MODELPORT_AMQP_URL": infra.amqp_url, "MODELPORT_LOG_FORMAT": "json",
              "MODELPORT_SHUTDOWN_GRACE_S": "5"}
    s3 = {"MODELPORT_S3_ENDPOINT_URL": infra.s3.endpoint_url,
          "MODELPORT_S3_BUCKET": infra.s3.bucket,
          "MODELPORT_PLATFORM_KEY_FILE": str(keys / "platform.pem"),
          "MODELPORT_TRUSTED_KEYS": str(runtime.trusted_keys)}

    def worker(slots: int, more: list[dict[str, Any]] | None = None) -> dict[str, str]:
        # memory_mb: the limits of test jobs (2 GB each by default) are far above their use
        hosts = [{"name": "local", "url": infra.docker_url, "slots": slots,
                  "memory_mb": 65536}, *(more or [])]
        return {**common, **s3, "MODELPORT_DOCKER_HOSTS": json.dumps(hosts),
                "MODELPORT_DOCKER_SERVICE": label, "MODELPORT_REPORT_INTERVAL_S": "0.5"}

    return {
        "backend": {**common, "MODELPORT_DATABASE_URL": infra.pg_dsn,
                    "MODELPORT_ADMIN_USER": ADMIN_USER, "MODELPORT_ADMIN_PASSWORD": ADMIN_PASSWORD,
                    "MODELPORT_SCHEDULER_INTERVAL_S": "0.2",
                    # the admin holds every session of a run open at once and submits all
                    # its jobs (bench/chaos.py): what a department's many users would
                    "MODELPORT_MAX_SESSIONS_PER_USER": "100",
                    "MODELPORT_MAX_QUEUED_PER_USER": "1000",
                    "MODELPORT_PROGRESS_EVENT_INTERVAL_S": "0",
                    "MODELPORT_LEASE_TTL_S": str(lease_ttl_s),
                    **({} if session_lease_ttl_s is None else
                       {"MODELPORT_SESSION_LEASE_TTL_S": str(session_lease_ttl_s)})},
        "portal": {**common, **s3, "MODELPORT_COOKIE_SECRET": Fernet.generate_key().decode(),
                   "MODELPORT_RPC_TIMEOUT_S": "10"},
        "solve": worker(solve_slots, solve_hosts or []),
        "session": {**worker(session_slots, session_hosts or []), "MODELPORT_NETWORK": network,
                    "MODELPORT_START_TIMEOUT_S": "60"},
    }


async def publish(p: Replicas, runtime: E2ERuntime) -> None:
    """Sign in, register the real runtime and publish the example apps through the API."""
    async with aiohttp.ClientSession() as http, http.post(
        p.portal_url + "/api/v1/auth/login",
        json={"username": ADMIN_USER, "password": ADMIN_PASSWORD},
    ) as resp:
        assert resp.status == 200, await resp.text()
        p.admin_token = str((await resp.json())["token"])
    await p.upload("/api/v1/runtimes", runtime.package)
    public = load_platform_key(p.tmp / "keys" / "platform.pem").public_key
    for app in APPS:
        out = p.tmp / f"{app}.mpapp"
        await asyncio.to_thread(pack_app, EXAMPLES / app, public, out)
        await p.upload("/api/v1/apps", out)


@contextlib.asynccontextmanager
async def running_replicas(
    infra: Infra, tmp: Path, *, runtime: E2ERuntime, label: str, replicas: int = 2,
    lease_ttl_s: float = 5.0, solve_slots: int = 4, session_slots: int = 4,
    session_lease_ttl_s: float | None = None,
    solve_hosts: list[dict[str, Any]] | None = None,
    session_hosts: list[dict[str, Any]] | None = None,
) -> AsyncIterator[Replicas]:
    """``replicas`` of every service, ready, with the runtime and apps published.
    ``solve_hosts`` and ``session_hosts`` are Docker hosts (HostConfig fields) the solve and
    session workers use besides the main engine; ``session_lease_ttl_s`` the sessions' lease
    (backend's default when None)."""
    _make_keys(tmp / "keys")
    network = f"mpt-{uuid.uuid4().hex[:8]}"
    envs = service_env(infra, tmp, runtime, label, network, lease_ttl_s=lease_ttl_s,
                       solve_slots=solve_slots, session_slots=session_slots,
                       session_lease_ttl_s=session_lease_ttl_s,
                       solve_hosts=solve_hosts or [], session_hosts=session_hosts or [])
    async with EventTap(infra.amqp_url, "modelport.#", durable=True) as tap:
        platform = Replicas(infra, label, tap, tmp, envs)
        try:
            for kind in KINDS:  # one at a time: the first backend migrates and bootstraps
                for _ in range(replicas):
                    await platform.start(kind, envs[kind])
                if kind == "portal":
                    await publish(platform, runtime)
            yield platform
        finally:
            await platform.stop()
            await sweep(infra.docker_url, label)
            hosts = [HostConfig(name="local", url=infra.docker_url),
                     *(HostConfig.model_validate(h) for h in session_hosts or [])]
            await drop_sessions_network(hosts, label, network)
