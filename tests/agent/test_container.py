"""The agent inside the runtime image, with the platform's hardened container flags."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from modelport.case import read_case
from tests.agent.support import EXAMPLES, Outcome

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "deploy" / "runtime" / "build-runtime-image.sh"
UID = 10001

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def runtime_image(docker_engine: str) -> str:
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
