"""``python -m modelport.agent serve``: preloads, reads one run request on stdin, runs it
exactly as ``run`` would and exits; a bad request exits with 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from modelport.agent import EXIT_INVALID, ProgressEvent
from modelport.agent.cli import request_argv
from modelport.case import read_case
from tests.agent.support import EXAMPLES, RUNTIME_VERSION, LiveAgent, Outcome, agent_env

pytestmark = pytest.mark.timeout(120)
SERVE = [sys.executable, "-m", "modelport.agent", "serve"]


def serve(request: bytes, timeout_s: float = 60.0) -> Outcome:
    done = subprocess.run(SERVE, input=request, capture_output=True, timeout=timeout_s,
                          env=agent_env(), check=False)
    return Outcome(done.stdout.splitlines(), done.returncode, done.stderr.decode())


def encoded(request: dict[str, Any]) -> bytes:
    return json.dumps(request).encode() + b"\n"


def test_a_request_runs_like_run_with_its_environment(tmp_path: Path) -> None:
    output = tmp_path / "out.mpcase"
    done = serve(encoded({"app": str(EXAMPLES / "transport"), "procedure": "solve",
                          "output": str(output), "options": {"priority": 3},
                          "env": {"MODELPORT_RUNTIME_DIGEST": "sha256:abc"}}))
    assert done.returncode == 0, done.stderr
    assert [e.type for e in done.events][0] == "started"
    assert done.result.path == str(output)
    lineage = read_case(output).metadata["lineage"]
    assert read_case(output).values("total_cost") == pytest.approx(153.675)
    assert lineage["options"] == {"priority": 3}
    assert lineage["runtime"] == {"version": RUNTIME_VERSION, "digest": "sha256:abc"}


def test_a_failing_request_ends_with_the_same_error_and_exit_code(tmp_path: Path) -> None:
    done = serve(encoded({"app": str(EXAMPLES / "transport"), "procedure": "nope",
                          "output": str(tmp_path / "out.mpcase")}))
    assert done.returncode == EXIT_INVALID
    assert done.error.reason == "unknown_procedure"


@pytest.mark.parametrize("request_line", [b"", b"not json\n", b"[1]\n",
                                          b'{"app": "a", "colour": 1}\n',
                                          b'{"app": "a", "procedure": "p"}\n'])
def test_a_bad_request_exits_with_2_and_no_protocol_line(request_line: bytes) -> None:
    done = serve(request_line)
    assert done.returncode == EXIT_INVALID and done.lines == []
    assert done.stderr


def test_the_request_is_read_after_preloading_and_signals_still_interrupt(
    tmp_path: Path
) -> None:
    agent = LiveAgent(SERVE, stdin=subprocess.PIPE)
    request = {"app": str(EXAMPLES / "facility-location"), "procedure": "solve",
               "output": str(tmp_path / "out.mpcase")}
    try:
        agent.send(encoded(request))
        agent.wait_for(lambda e: isinstance(e, ProgressEvent) and e.incumbent is not None,
                       timeout_s=60)
        agent.interrupt()
        done = agent.finish(timeout_s=30)
    finally:
        agent.proc.kill()
    assert done.returncode == 0, done.stderr
    assert done.result.interrupted


def test_request_argv_maps_keys_to_run_arguments() -> None:
    argv, env, files = request_argv(b'{"app": "/a", "procedure": "p", "output": "/o", '
                             b'"input": null, "options": {"k": 1}, "env": {"X": 2}}')
    assert argv == ["run", "--app", "/a", "--procedure", "p", "--output", "/o",
                    "--options", '{"k": 1}']
    assert env == {"X": "2"} and files is None
