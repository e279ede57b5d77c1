"""Fixtures of the CLI tests: an empty config dir and a clean environment; a running stack."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog

from common.settings import S3Settings
from tests.cli.helpers import CLEARED_ENV
from tests.support.stack import Stack, running_stack


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh MODELPORT_CONFIG_DIR; the test runs in ``tmp_path`` with no MODELPORT_URL/TOKEN."""
    config = tmp_path / "config"
    monkeypatch.setenv("MODELPORT_CONFIG_DIR", str(config))
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return config


@pytest.fixture
def quiet_server_logs() -> Iterator[None]:
    """Send the in-process servers' structlog output to the real stderr, not to whatever
    ``sys.stdout`` is when they log: a CLI run in a worker thread has it swapped for its own
    capture, and a server line there would corrupt the command's output."""
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.__stderr__),
                        cache_logger_on_first_use=False)
    try:
        yield
    finally:
        structlog.configure(**saved)


@pytest.fixture
async def stack(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path, config_dir: Path,
    quiet_server_logs: None,
) -> AsyncIterator[Stack]:
    """Backend + portal in-process on fresh servers (see tests/support/stack.py)."""
    async with running_stack(pg_dsn, amqp_url, s3_settings, tmp_path / "stack") as running:
        yield running
