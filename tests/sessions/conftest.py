"""Fixtures of the session tests: the backend tests' RPC client, the Docker engine."""

from tests.backend.conftest import rpc  # noqa: F401
from tests.docker.conftest import SESSION, _final_sweep, docker_engine  # noqa: F401
