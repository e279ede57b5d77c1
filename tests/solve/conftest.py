"""Fixtures for solve_svc: the real runtime image packed once per session, the example apps
packed for a test platform key, one S3 bucket for those, a backend double and a running
SolveService per test whose containers are checked gone afterwards."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection

from common.contracts.jobs import BlobRef, RunJob, StopJob
from common.docker import DockerHost, DockerSettings, HostConfig, adopt_or_sweep
from common.packages import generate_platform_key, pack_app, platform_key_from_pem
from common.packages.keys import save_private_key
from common.settings import PackageSettings, S3Settings
from common.storage import S3Storage
from modelport.appkit import load_app, run, save_case
from modelport.devstack.weed import WeedServer
from solve_svc.service import SolveService
from solve_svc.settings import SolveSettings
from tests.docker.conftest import SESSION, _final_sweep  # noqa: F401
from tests.solve.runtime_package import RuntimePackage, runtime_package
from tests.solve.support import EXAMPLES, FakeBackend, job_id, put_blob, send, serve_backend
from tests.support import infra

APPS = ("transport", "facility-location", "sleeper")


@dataclass(frozen=True)
class Blobs:
    s3: S3Settings
    runtime: RuntimePackage
    runtime_ref: BlobRef
    apps: dict[str, BlobRef]
    key_file: Path


async def _upload_all(s3: S3Settings, files: dict[str, Path]) -> dict[str, BlobRef]:
    async with S3Storage(s3) as storage:
        return {key: await put_blob(storage, key, path) for key, path in files.items()}


@pytest.fixture(scope="session")
def blobs(docker_engine: str, s3_server: WeedServer,
          tmp_path_factory: pytest.TempPathFactory) -> Blobs:
    """The runtime package and the example apps in one session-wide bucket."""
    folder = tmp_path_factory.mktemp("solve")
    runtime = runtime_package()
    pem, _ = generate_platform_key()
    key = platform_key_from_pem(pem)
    save_private_key(folder / "platform.pem", pem)
    files = {f"runtimes/{runtime.version}/package": runtime.path}
    for name in APPS:
        pack_app(EXAMPLES / name, key.public_key, folder / f"{name}.mpapp")
        files[f"apps/{name}/1.0.0/package"] = folder / f"{name}.mpapp"
    s3 = S3Settings(endpoint_url=s3_server.endpoint, bucket=infra.unique("mp-solve-"))
    refs = asyncio.run(_upload_all(s3, files))
    apps = {name: refs[f"apps/{name}/1.0.0/package"] for name in APPS}
    return Blobs(s3, runtime, refs[f"runtimes/{runtime.version}/package"], apps,
                 folder / "platform.pem")


@dataclass
class Harness:
    service: SolveService
    backend: FakeBackend
    connection: AbstractRobustConnection
    storage: S3Storage
    blobs: Blobs
    tmp: Path

    def job(self, app: str, procedure: str, **over: Any) -> RunJob:
        fields: dict[str, Any] = dict(
            job_id=job_id(), attempt=1, app=app, app_version="1.0.0",
            app_package=self.blobs.apps[app], runtime_version=self.blobs.runtime.version,
            runtime_package=self.blobs.runtime_ref,
            runtime_image_digest=self.blobs.runtime.image_id, procedure=procedure,
            input_case=None, options={}, time_limit_s=None, memory_mb=512, lease_ttl_s=30.0)
        fields.update(over)
        return RunJob(**fields)

    async def case(self, app: str, data: dict[str, Any], *, generate: dict[str, Any] | None
                   = None) -> BlobRef:
        """An input case of ``app`` (defaults overlaid with ``data``, or generated)."""
        loaded = load_app(EXAMPLES / app)
        values = ({**loaded.app.default_data(), **data} if generate is None
                  else run(loaded.app, "generate", generate))
        path = self.tmp / f"{uuid.uuid4().hex}.mpcase"
        save_case(loaded.app, path, values)
        return await put_blob(self.storage, f"cases/{path.stem}", path)

    async def run(self, job: RunJob | StopJob) -> None:
        await send(self.connection, self.service.worker_queue, job)

    async def containers(self) -> list[dict[str, Any]]:
        """Every container under this test's service label, in any state."""
        config = self.service.docker_settings
        async with DockerHost(config.hosts[0], service=config.service) as host:
            return await host.ours(all_states=True)


@pytest.fixture
def solve_overrides() -> dict[str, Any]:
    """Settings a test module gives the solve service (override this fixture)."""
    return {}


@pytest.fixture
async def harness(amqp_url: str, blobs: Blobs, docker_engine: str, tmp_path: Path,
                  solve_overrides: dict[str, Any]) -> AsyncIterator[Harness]:
    label = f"{SESSION}-{uuid.uuid4().hex[:8]}"
    settings = SolveSettings(
        amqp_url=amqp_url, instance_id=f"solve-test-{uuid.uuid4().hex[:8]}", status_port=0,
        report_interval_s=0.3, progress_interval_s=0.05, shutdown_grace_s=5.0,
        **solve_overrides)
    docker = DockerSettings(hosts=[HostConfig(name="local", url=docker_engine)], service=label)
    service = SolveService(settings, docker=docker, s3=blobs.s3,
                           packages=PackageSettings(platform_key_file=str(blobs.key_file)))
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        async with serve_backend(connection) as backend, S3Storage(blobs.s3) as storage:
            await service.start()
            try:
                yield Harness(service, backend, connection, storage, blobs, tmp_path)
            finally:
                await service.stop()
    finally:
        await connection.close()
        await _sweep(docker_engine, label)


async def _sweep(url: str, label: str) -> None:
    async with DockerHost(HostConfig(name="local", url=url), service=label) as host:
        await adopt_or_sweep(host, [])
