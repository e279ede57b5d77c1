"""The agent inside the runtime image, with the platform's hardened container flags: a job
(``run``) and a data session (``session``)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import aiohttp
import pytest

from modelport.agent.session_protocol import StopCommand, StoppedEvent
from modelport.case import read_case
from tests.agent.session_host import SessionHost
from tests.agent.session_support import next_ws
from tests.agent.support import EXAMPLES, Outcome

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "deploy" / "runtime" / "build-runtime-image.sh"
UID = 10001

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def runtime_image() -> str:
    if not docker_answers():
        pytest.skip("no Docker engine answers `docker info`; the container test needs one")
    built = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=840,
                           check=False)
    assert built.returncode == 0, built.stderr
    return built.stdout.strip().splitlines()[-1]


def hardened_run(image: str, work: Path, *command: str) -> list[str]:
    return [
        "docker", "run", "--rm", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges", "--network", "none", "--user", str(UID),
        "--memory", "1g", "--pids-limit", "256", "--label", "org.modelport.test=agent",
        "-v", f"{work}:/work", image, *command,
    ]


def test_transport_in_the_runtime_image(runtime_image: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(EXAMPLES / "transport", work / "app")
    work.chmod(0o777)  # uid 10001 writes the result case here
    command = hardened_run(runtime_image, work, "python", "-m", "modelport.agent", "run",
                           "--app", "/work/app", "--procedure", "solve",
                           "--output", "/work/out.mpcase")
    done = subprocess.run(command, capture_output=True, timeout=120, check=False)
    outcome = Outcome(done.stdout.splitlines(), done.returncode, done.stderr.decode())
    assert outcome.returncode == 0, (outcome.lines, outcome.stderr)
    assert outcome.events[0].type == "started"
    assert outcome.result.path == "/work/out.mpcase"
    case = read_case(work / "out.mpcase")
    assert case.values("total_cost") == pytest.approx(153.675)
    lineage = case.metadata["lineage"]
    assert lineage["runtime"]["version"] == outcome.events[0].runtime_version
    assert lineage["runtime"]["version"]


async def test_a_data_session_in_the_runtime_image(runtime_image: str, tmp_path: Path) -> None:
    """``session`` as a session container's main process: the control channel over
    ``docker run -i``, the HTTP port published on loopback, the hardened flags otherwise."""
    name = f"mp-test-session-{tmp_path.name[-12:].lower().replace('_', '-')}"
    app = tmp_path / "app"
    shutil.copytree(EXAMPLES / "transport", app)
    command = [
        "docker", "run", "-i", "--rm", "--name", name, "--read-only", "--tmpfs", "/tmp",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--user", str(UID),
        "--memory", "1g", "--pids-limit", "256", "--label", "org.modelport.test=agent",
        "-p", "127.0.0.1::8080", "-v", f"{app}:/work/app:ro", runtime_image,
        "python", "-m", "modelport.agent", "session",
    ]
    host = SessionHost(command)
    try:
        ready = await host.start(Path("/work/app"), host="0.0.0.0", port=8080,
                                 base_path="/s/in-container/", autosave_s=0)
        assert ready.port == 8080 and ready.app == "transport"
        host.app_dir = app  # the test-side host runs the job agent on the host
        published = (await asyncio.to_thread(
            subprocess.run, ["docker", "port", name, "8080"], capture_output=True, text=True,
            timeout=30, check=True)).stdout.split()[0]
        base = f"http://{published}/s/in-container/"
        async with aiohttp.ClientSession() as http:
            async with http.get(base) as page:
                assert page.status == 200 and "static/app.js" in await page.text()
            async with http.patch(base + "api/data/demand", json={"changes": [
                    {"element": ["new-york"], "value": -1}]}) as refused:
                assert refused.status == 422
            async with http.patch(base + "api/data/demand", json={"changes": [
                    {"element": ["new-york"], "value": 330}]}) as accepted:
                assert accepted.status == 200
            async with http.ws_connect(base + "ws") as socket:
                await next_ws(socket, "hello")
                async with http.post(base + "api/procedures/solve") as solving:
                    assert solving.status == 202
                job = await next_ws(socket, "job", 90, loaded=True)
                assert job["state"] == "succeeded"
            async with http.get(base + "api/data/total_cost") as cost:
                assert (await cost.json())["value"] > 153.675
        await host.send(StopCommand(reason="test"))
        stopped = await host.wait_for(lambda m: m.type == "stopped", 30)
        assert isinstance(stopped, StoppedEvent) and stopped.autosaved
        assert await host.exit_code(60) == 0
    finally:
        await host.close()
        await asyncio.to_thread(subprocess.run, ["docker", "rm", "-f", name],
                                capture_output=True, timeout=60, check=False)
