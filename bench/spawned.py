"""backend_svc and portal_svc as their own processes (``python -m …``, as deployed), on a fresh
database, vhost and bucket, for benches that load the platform from outside.

    async with spawned_platform(tmp) as platform:
        token = await platform.login(ADMIN_USER, ADMIN_PASSWORD)

Each service logs to ``tmp/<name>.log`` at ``log_level``; the processes are stopped with
SIGTERM (SIGKILL after 20 s) and the database, vhost and S3 server removed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from cryptography.fernet import Fernet

from modelport.devstack.weed import WeedServer
from tests.support import infra
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
ADMIN_USER = "admin"
ADMIN_PASSWORD = "bench-admin-password-1"
READY_DEADLINE_S = 90.0
STOP_DEADLINE_S = 20.0


@dataclass
class SpawnedPlatform:
    portal_url: str
    pg_dsn: str
    amqp_url: str
    pids: dict[str, int] = field(default_factory=dict)

    async def login(self, username: str, password: str) -> str:
        async with aiohttp.ClientSession() as http, http.post(
            f"{self.portal_url}/api/v1/auth/login",
            json={"username": username, "password": password},
        ) as resp:
            assert resp.status == 200, await resp.text()
            return str((await resp.json())["token"])

    async def create_user(self, admin_token: str, username: str, password: str) -> str:
        """A new (non-admin) user; returns their token."""
        async with aiohttp.ClientSession() as http, http.post(
            f"{self.portal_url}/api/v1/users", headers={"Authorization": f"Bearer {admin_token}"},
            json={"username": username, "password": password},
        ) as resp:
            assert resp.status == 201, await resp.text()
        return await self.login(username, password)


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    env.update({f"MODELPORT_{k.upper()}": v for k, v in values.items()})
    return env


def _spawn(module: str, env: dict[str, str], log: Path, root: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", module], cwd=root,
                                env={**env, "PYTHONPATH": str(root)},
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


async def _wait_ready(url: str, procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + READY_DEADLINE_S
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} not ready within {READY_DEADLINE_S:g} s")


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.asynccontextmanager
async def spawned_platform(
    tmp: Path, *, log_level: str = "info", backend: dict[str, str] | None = None,
    portal: dict[str, str] | None = None, root: Path = ROOT,
) -> AsyncIterator[SpawnedPlatform]:
    """Start S3, backend and portal; yield once the portal is ready; stop and clean up.

    ``root`` is the checkout the services run from (another one to compare with); ``backend``
    and ``portal`` add settings (without the ``MODELPORT_`` prefix) to that service.
    """
    weed = WeedServer(tmp / "weed")
    weed.start()
    vhosts = infra.VhostPool(batch=1)
    database = await infra.create_database()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        _, amqp_url = vhosts.take()
        dsn = infra.dsn_for(database)
        common = {"amqp_url": amqp_url, "log_level": log_level, "log_format": "json"}
        procs.append(_spawn("backend_svc", _env(
            **common, database_url=dsn, admin_user=ADMIN_USER, admin_password=ADMIN_PASSWORD,
            status_port="0", **(backend or {})), tmp / "backend.log", root))
        port = free_port()
        procs.append(_spawn("portal_svc", _env(
            **common, port=str(port), cookie_secret=Fernet.generate_key().decode(),
            s3_endpoint_url=weed.endpoint, s3_bucket=infra.unique("mp-bench-"),
            **(portal or {})), tmp / "portal.log", root))
        url = f"http://127.0.0.1:{port}"
        await _wait_ready(f"{url}/readyz", procs)
        yield SpawnedPlatform(url, dsn, amqp_url,
                              {"backend": procs[0].pid, "portal": procs[1].pid})
    finally:
        await asyncio.to_thread(_stop, procs)
        await infra.drop_database(database)
        vhosts.close()
        weed.stop()
