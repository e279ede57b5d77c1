"""The four services on real servers for the metrics tests: backend and portal from
``running_stack``, and in-process session and solve workers on the same vhost (solve with the
local Docker engine as its one host, a platform key and S3, so its job machinery runs)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from common.docker import DockerSettings, HostConfig
from common.settings import PackageSettings, S3Settings
from session_svc.service import SessionService
from session_svc.settings import SessionSettings
from solve_svc.service import SolveService
from solve_svc.settings import SolveSettings
from tests.docker.conftest import SESSION, _final_sweep  # noqa: F401
from tests.e2e.platform import sweep
from tests.support.stack import Stack, running_stack

HOST_SLOTS = 3


@dataclass
class Services:
    stack: Stack
    session: SessionService
    solve: SolveService

    def metrics_url(self, service: str) -> str:
        """Where ``service`` serves ``/metrics``."""
        if service == "portal":
            return self.stack.url("/metrics")
        status = self.stack.backend.status
        ports = {"backend": status.port if status is not None else 0,
                 "session": self.session.status_port, "solve": self.solve.status_port}
        return f"http://127.0.0.1:{ports[service]}/metrics"


@pytest.fixture
async def services(pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path,
                   docker_engine: str) -> AsyncIterator[Services]:
    label = f"{SESSION}-{uuid.uuid4().hex[:8]}"
    async with running_stack(pg_dsn, amqp_url, s3_settings, tmp_path) as stack:
        session = SessionService(SessionSettings(
            amqp_url=amqp_url, status_port=0, instance_id=f"session-{label}",
            connect_deadline_s=10, shutdown_grace_s=2))
        solve = SolveService(
            SolveSettings(amqp_url=amqp_url, status_port=0, instance_id=f"solve-{label}",
                          report_interval_s=0.3, connect_deadline_s=10, shutdown_grace_s=2),
            docker=DockerSettings(hosts=[HostConfig(name="local", url=docker_engine,
                                                    slots=HOST_SLOTS)], service=label),
            s3=s3_settings,
            packages=PackageSettings(platform_key_file=str(tmp_path / "keys" / "platform.pem")))
        try:
            await session.start()
            await solve.start()
            yield Services(stack, session, solve)
        finally:
            await solve.stop()
            await session.stop()
            await sweep(docker_engine, label)
