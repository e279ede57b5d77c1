"""Fixtures of the session tests: the backend tests' RPC client, the Docker engine, the real
runtime (built once) and a platform with a real session worker per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from common.settings import S3Settings
from tests.backend.conftest import rpc  # noqa: F401
from tests.docker.conftest import SESSION, _final_sweep  # noqa: F401
from tests.e2e.runtime import E2ERuntime, e2e_runtime
from tests.sessions.platform import SessionPlatform, session_platform


@pytest.fixture(scope="session")
def runtime(docker_engine: str) -> E2ERuntime:  # noqa: F811
    return e2e_runtime()


@pytest.fixture
def label() -> str:
    return f"{SESSION}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def session_options() -> dict[str, object]:
    """SessionSettings fields a test module overrides."""
    return {}


@pytest.fixture
async def sessions(pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path,
                   runtime: E2ERuntime, docker_engine: str, label: str,  # noqa: F811
                   session_options: dict[str, object],
                   monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SessionPlatform]:
    monkeypatch.setenv("MODELPORT_SESSION_LEASE_TTL_S", "4")
    monkeypatch.setenv("MODELPORT_SCHEDULER_INTERVAL_S", "0.2")
    monkeypatch.setenv("MODELPORT_PROGRESS_EVENT_INTERVAL_S", "0")
    monkeypatch.setenv("MODELPORT_SESSION_CLAIM_TIMEOUT_S", "20")
    async with session_platform(pg_dsn, amqp_url, s3_settings, tmp_path, runtime=runtime,
                                docker_url=docker_engine, label=label,
                                **session_options) as found:
        yield found
