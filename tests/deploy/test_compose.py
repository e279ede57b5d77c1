"""The compose stack as a newcomer meets it (issue 9's acceptance): the file validates, the
images are slim and run as non-root, and ``docker compose up`` with the images built here
leads to a platform where ``transport`` is published and solves to 153.675; ``down -v``
leaves nothing behind."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.deploy.stack import REPO, compose_stack, run, run_transport

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3000)]
SERVICE_IMAGE_LIMIT_MB = 250
INFRA = ("MODELPORT_POSTGRES_IMAGE", "MODELPORT_RABBITMQ_IMAGE", "MODELPORT_S3_IMAGE")


def test_compose_files_validate_with_and_without_the_local_images() -> None:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root"}
    names = json.loads(run("docker", "compose", "--env-file", "/dev/null", "config",
                           "--format", "json", env=env))["services"]
    assert set(names) == {"secrets", "postgres", "rabbitmq", "s3", "backend", "portal",
                          "session", "solve", "runtime", "bootstrap"}
    with_metrics = json.loads(run("docker", "compose", "--env-file", "/dev/null", "--profile",
                                  "metrics", "config", "--format", "json", env=env))
    assert "prometheus" in with_metrics["services"]
    refused = subprocess.run(
        ["docker", "compose", "--env-file", "/dev/null", "-f", "docker-compose.yml", "-f",
         "deploy/compose.local-images.yml", "config", "-q"],
        cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "deploy/build-images.sh" in refused.stderr


def test_no_secret_has_a_default_in_the_compose_file() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    for var in ("POSTGRES_PASSWORD", "AMQP_PASSWORD", "S3_ACCESS_KEY", "S3_SECRET_KEY",
                "COOKIE_SECRET", "ADMIN_PASSWORD", "PLATFORM_KEY", "PUBLISHER_KEY",
                "AMQP_BACKEND_PASSWORD", "AMQP_PORTAL_PASSWORD", "AMQP_SESSION_PASSWORD",
                "AMQP_SOLVE_PASSWORD"):
        assert f"MODELPORT_{var}:-}}" in text or f"MODELPORT_{var}:+" in text, var


def test_every_image_runs_as_non_root_and_the_service_image_is_slim(
    images: dict[str, str],
) -> None:
    for key, tag in images.items():
        uid = run("docker", "run", "--rm", "--network", "none", "--entrypoint", "id", tag,
                  "-u").strip()
        assert uid != "0", f"{key} ({tag}) runs as root"
    size = int(run("docker", "image", "inspect", "--format", "{{.Size}}",
                   images["MODELPORT_SERVICE_IMAGE"]).strip())
    assert size < SERVICE_IMAGE_LIMIT_MB * 1_000_000, f"service image is {size / 1e6:.0f} MB"


async def test_compose_up_publishes_transport_and_runs_it(
    images: dict[str, str], tmp_path: Path,
) -> None:
    started = time.monotonic()
    with compose_stack(images) as stack:
        up_s = time.monotonic() - started
        states = stack.states()
        for name in ("postgres", "rabbitmq", "s3", "backend", "portal", "session", "solve"):
            assert (states[name]["State"], states[name]["Health"]) == ("running", "healthy"), \
                states[name]
        for name in ("secrets", "runtime", "bootstrap"):
            assert (states[name]["State"], states[name]["ExitCode"]) == ("exited", 0)
        assert "Modelport is ready: http://localhost:" in stack.logs("bootstrap")
        user, password = stack.admin_login()
        total = await run_transport(stack.url, user, password, tmp_path)
        assert total == pytest.approx(153.675)
        print(f"compose up → examples published: {up_s:.1f} s")
    assert stack.leftovers() == {"containers": [], "jobs": [], "networks": [], "volumes": []}

