"""``modelport dev up --detach`` / ``dev down`` end to end: real processes, broker, database."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from modelport.devstack import procs
from modelport.devstack.state import StateDir
from tests.services.procs import run_cli
from tests.support import infra
from tests.support.ports import free_port

pytestmark = pytest.mark.slow
ADMIN = {"username": "admin", "password": "admin-password-1"}


@pytest.fixture
async def state_dir(tmp_path: Path) -> AsyncIterator[Path]:
    """A state dir whose stack is stopped (and, failing that, killed) after the test."""
    path = tmp_path / "state"
    yield path
    record = StateDir(path).read_record()
    if record is not None:
        await asyncio.to_thread(procs.stop_all, record.processes, 5)


def stack_env(amqp_url: str, pg_dsn: str) -> dict[str, str]:
    return {
        "MODELPORT_RABBITMQCTL": infra.RABBITMQCTL,
        "MODELPORT_AMQP_URL": amqp_url,
        "MODELPORT_DATABASE_URL": pg_dsn,
        "MODELPORT_ADMIN_USER": ADMIN["username"],
        "MODELPORT_ADMIN_PASSWORD": ADMIN["password"],
    }


async def login(url: str) -> tuple[int, int, dict[str, object]]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/readyz") as ready:
            ready_status = ready.status
        async with http.post(f"{url}/api/v1/auth/login", json=ADMIN) as response:
            return ready_status, response.status, await response.json()


async def test_up_detached_then_down(amqp_url: str, pg_dsn: str, state_dir: Path) -> None:
    env = stack_env(amqp_url, pg_dsn)
    args = ("dev", "up", "--detach", "--free-ports", "--state-dir", str(state_dir))
    up = await run_cli(*args, env=env, timeout_s=180)
    assert up.code == 0, up.stderr
    url = up.stdout.strip()
    ready, status, body = await login(url)
    assert (ready, status) == (200, 200), body
    assert body["user"]["username"] == "admin"  # type: ignore[index]

    again = await run_cli(*args, env=env)
    assert again.code == 1 and "already runs" in again.stderr

    record = StateDir(state_dir).read_record()
    assert record is not None
    assert {p.name for p in record.processes} == {"s3", "backend", "session", "solve", "portal"}
    down = await run_cli("dev", "down", "--state-dir", str(state_dir), env=env, timeout_s=90)
    assert down.code == 0, down.stderr
    assert not [p.name for p in record.processes if procs.is_running(p)]
    assert not (state_dir / "pids.json").exists()

    noop = await run_cli("dev", "down", "--state-dir", str(state_dir), env=env)
    assert noop.code == 0 and "nothing is running" in noop.stderr


async def test_up_reports_the_failing_service_and_stops_the_rest(
    amqp_url: str, state_dir: Path
) -> None:
    env = {
        "MODELPORT_AMQP_URL": amqp_url,
        "MODELPORT_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere",
        "MODELPORT_CONNECT_DEADLINE_S": "1",
        "MODELPORT_S3_ENDPOINT_URL": "http://127.0.0.1:9",  # passed through: no weed started
    }
    args = ("dev", "up", "--detach", "--free-ports", "--state-dir", str(state_dir))
    up = await run_cli(*args, env=env, timeout_s=120)
    assert up.code == 1
    assert "backend: exited with status 1" in up.stderr
    assert "last lines of" in up.stderr and "backend.log" in up.stderr
    assert not (state_dir / "pids.json").exists()
    assert not (state_dir / "logs" / "s3.log").exists()
    assert up.stdout == ""


async def read_until(stream: asyncio.StreamReader, marker: str, timeout_s: float) -> list[str]:
    """Lines of ``stream`` up to and including the first containing ``marker``."""

    async def read() -> list[str]:
        lines: list[str] = []
        while line := (await stream.readline()).decode():
            lines.append(line)
            if marker in line:
                return lines
        raise AssertionError(f"stream ended before {marker!r}:\n{''.join(lines)}")

    return await asyncio.wait_for(read(), timeout_s)


async def test_foreground_streams_logs_and_stops_on_ctrl_c(
    amqp_url: str, pg_dsn: str, state_dir: Path, tmp_path: Path
) -> None:
    out_path = tmp_path / "stdout.txt"
    with out_path.open("wb") as out:  # a file, so the streamed logs never block on a full pipe
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "modelport", "dev", "up", "--free-ports", "--state-dir",
            str(state_dir), env={**os.environ, **stack_env(amqp_url, pg_dsn)},
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE,
        )
    try:
        assert proc.stderr is not None
        ready = await read_until(proc.stderr, "portal ready:", 180)
        record = StateDir(state_dir).read_record()
        assert record is not None, "".join(ready)
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.communicate(), 90)
        assert proc.returncode == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    lines = out_path.read_text().splitlines()
    prefixes = {line.split("|")[0].strip() for line in lines}
    assert prefixes >= {"backend", "session", "solve", "portal"}
    assert any("service_stopped" in line for line in lines if line.startswith("portal"))
    assert not [p.name for p in record.processes if procs.is_running(p)]
    assert not (state_dir / "pids.json").exists()
