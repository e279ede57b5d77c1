"""Fixtures for the deployment tests: a Docker engine with Compose v2 (missing: the tests
fail, they never skip) and the stack's images, built once per session with no registry."""

from __future__ import annotations

import subprocess

import pytest

from tests.deploy.stack import build_images


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """KEY → tag of every image of the stack (deploy/build-images.sh, cached by content)."""
    done = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, (
        "docker compose (v2) does not run: ./scripts/test installs it (mp_ensure_compose); "
        f"{done.stderr.strip()}")
    return build_images()
