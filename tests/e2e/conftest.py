"""Fixtures for end-to-end tests: the real runtime package (once per session) and a running
platform per test (see :mod:`tests.e2e.platform`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from common.settings import S3Settings
from tests.docker.conftest import SESSION, _final_sweep  # noqa: F401
from tests.e2e.platform import Platform, running_platform
from tests.e2e.runtime import E2ERuntime, e2e_runtime


@pytest.fixture(scope="session")
def runtime(docker_engine: str) -> E2ERuntime:
    return e2e_runtime()


@pytest.fixture
def label() -> str:
    return f"{SESSION}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def platform(pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path,
                   runtime: E2ERuntime, docker_engine: str,
                   label: str) -> AsyncIterator[Platform]:
    """The platform with one in-process solve worker (4 slots, no warm pool)."""
    async with running_platform(pg_dsn, amqp_url, s3_settings, tmp_path, runtime=runtime,
                                docker_url=docker_engine, label=label) as found:
        await found.start_worker("solve-a")
        yield found
