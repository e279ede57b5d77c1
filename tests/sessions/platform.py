"""The platform with a real session worker for the session tests: backend + portal (the e2e
platform, with the real runtime and the example apps published), the ``probe`` app (transport
carrying :mod:`tests.sessions.fake_agent`), and an in-process :class:`SessionService` on its
own isolated network, removed with its firewall rules at the end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from common.docker import DockerSettings
from common.settings import PackageSettings, S3Settings
from session_svc.service import SessionService
from session_svc.settings import SessionSettings
from tests.e2e.platform import (
    APPS,
    EXAMPLES,
    Platform,
    _upload_file,
    drop_sessions_network,
    sweep,
)
from tests.e2e.runtime import E2ERuntime
from tests.support.events import EventTap
from tests.support.stack import Stack, running_stack

FAKE_AGENT = Path(__file__).with_name("fake_agent.py")
FAKE_COMMAND = ["python", "/work/app/fake_agent.py"]
LIVE = ("requested", "starting", "ready", "stopping")


@dataclass
class SessionPlatform:
    platform: Platform
    service: SessionService
    network: str

    @property
    def stack(self) -> Any:
        return self.platform.stack

    async def call(self, method: str, path: str, token: str | None = None,
                   **kwargs: Any) -> tuple[int, Any]:
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers = {**headers, "Authorization": f"Bearer {token}"}
            return await _request(self.stack.url(path), method, headers=headers, **kwargs)
        return await self.platform.call(method, path, headers=headers, **kwargs)

    async def open(self, app: str = "probe", token: str | None = None,
                   **fields: Any) -> dict[str, Any]:
        status, body = await self.call("POST", "/api/v1/sessions", token,
                                       json={"app": app, **fields})
        assert status == 201, body
        return dict(body)

    async def settled(self, session_id: str, token: str | None = None, *,
                      leave: tuple[str, ...] = ("requested", "starting"),
                      timeout_s: float = 60.0) -> dict[str, Any]:
        """The session once its state is not in ``leave`` (polls the API every 0.1 s)."""
        async with asyncio.timeout(timeout_s):
            while True:
                status, body = await self.call("GET", f"/api/v1/sessions/{session_id}", token)
                assert status == 200, body
                if body["state"] not in leave:
                    return dict(body)
                await asyncio.sleep(0.1)

    async def ready(self, app: str = "probe", token: str | None = None,
                    **fields: Any) -> dict[str, Any]:
        session = await self.open(app, token, **fields)
        found = await self.settled(session["id"], token)
        assert found["state"] == "ready", found
        return found

    def container_of(self, session_id: str) -> str:
        running = self.service.worker.sessions[session_id] if self.service.worker else None
        assert running is not None and running.containers
        return running.containers[0].name


async def _request(url: str, method: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.request(method, url, **kwargs) as resp:
        body = await resp.read()
        ctype = resp.headers.get("Content-Type", "")
        return resp.status, (json.loads(body) if "json" in ctype and body else body)


def probe_app(tmp: Path) -> Path:
    """transport renamed ``probe``, carrying the fake agent."""
    folder = tmp / "probe"
    shutil.copytree(EXAMPLES / "transport", folder)
    toml = folder / "app.toml"
    toml.write_text(toml.read_text().replace('name = "transport"', 'name = "probe"', 1))
    code = folder / "app.py"
    code.write_text(code.read_text().replace('App(name="transport"', 'App(name="probe"', 1))
    shutil.copy(FAKE_AGENT, folder / "fake_agent.py")
    return folder


@contextlib.asynccontextmanager
async def session_platform(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path, *,
    runtime: E2ERuntime, docker_url: str, label: str,
    docker_options: dict[str, Any] | None = None, **settings: Any,
) -> AsyncIterator[SessionPlatform]:
    """The platform and a started SessionService with ``settings`` (SessionSettings fields)
    on the main engine, or on the hosts ``docker_options`` names (DockerSettings fields)."""
    network = f"mpt-{uuid.uuid4().hex[:8]}"
    async with running_stack(pg_dsn, amqp_url, s3_settings, tmp_path,
                             packages={"trusted_keys": str(runtime.trusted_keys)}) as stack, \
            EventTap(amqp_url, "modelport.#") as events:
        await publish(stack, runtime, tmp_path, amqp_url)
        platform = Platform(stack, amqp_url, docker_url, label, runtime, events, tmp_path)
        values: dict[str, Any] = {
            "amqp_url": amqp_url, "instance_id": f"sess-{uuid.uuid4().hex[:6]}",
            "status_port": 0, "report_interval_s": 0.3, "shutdown_grace_s": 5.0,
            "network": network, "agent_command": FAKE_COMMAND, "start_timeout_s": 30.0,
            "session_memory_mb": 256, **settings}
        docker = platform.docker_settings(slots=8, warm=0)
        if docker_options:
            docker = DockerSettings.model_validate({**docker.model_dump(), **docker_options})
        service = SessionService(
            SessionSettings.model_validate(values),
            docker=docker, s3=platform.stack.s3_settings,
            packages=PackageSettings(platform_key_file=str(platform.platform_key_file)))
        try:
            await service.start()
            yield SessionPlatform(platform, service, network)
        finally:
            await service.stop()
            await platform.close()
            await sweep(docker_url, label)
            await drop_sessions_network(docker.hosts, label, network)


async def publish(stack: Stack, runtime: E2ERuntime, tmp: Path, amqp_url: str) -> None:
    """Register the runtime by its record only (its image is on this engine already, so the
    500 MB package need not travel), then publish the example apps and ``probe``."""
    from common.amqp.connection import connect
    from common.amqp.rpc import RpcClient
    from common.contracts.base import Principal
    from common.contracts.methods import RegistryMethods
    from common.contracts.registry import RegisterRuntime

    connection = await connect(amqp_url, deadline_s=10, name="test-publish")
    rpc = RpcClient(connection, timeout_s=10)
    await rpc.start()
    try:
        manifest = {"runtime_version": runtime.version, "image_digest": runtime.image_id,
                    "image_reference": runtime.tag}
        await rpc.call_method(RegistryMethods.REGISTER_RUNTIME, RegisterRuntime(
            actor=Principal.SYSTEM, version=runtime.version, manifest=manifest,
            s3_key="runtimes/not-uploaded", sha256="0" * 64, size_bytes=1,
            signer_key_id="test"))
    finally:
        await rpc.stop()
        await connection.close()
    for app in APPS:
        await _upload_file(stack, "/api/v1/apps", stack.pack_app(app))
    await _upload_file(stack, "/api/v1/apps", stack.pack_app(probe_app(tmp)))
