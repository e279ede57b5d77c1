"""Fixtures for the high-availability tests: the e2e runtime and platform helpers (real
backend, portal, PostgreSQL, RabbitMQ, S3 and Docker)."""

from __future__ import annotations

import uuid

import pytest

from tests.docker.conftest import SESSION, _final_sweep  # noqa: F401
from tests.e2e.conftest import runtime  # noqa: F401


@pytest.fixture
def label() -> str:
    return f"{SESSION}-{uuid.uuid4().hex[:8]}"


from tests.backend.conftest import rpc  # noqa: E402,F401
from tests.portal.conftest import jobs  # noqa: E402,F401
