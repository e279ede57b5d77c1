"""``scripts/test`` itself: a skip or a broken set-up fails the run; the last line counts.

Each case runs the real script in a subprocess on a tiny pytest target of its own (the set-up
steps find everything present and take well under a second). The shared Docker engine is
never stopped: a dead engine is a ``DOCKER_HOST`` pointing at a socket nobody serves.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import engines
from tests.support.rabbit_instance import RabbitInstance
from tests.support.skips import read_allowed

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "test"
SAMPLE = '''
import pytest

def test_passes():
    assert 1 + 1 == 2

def test_skips():
    pytest.skip("nothing to test here")

@pytest.mark.xfail(strict=True, reason="a known bug")
def test_known_bug():
    assert False
'''

pytestmark = pytest.mark.timeout(120)


def run_script(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    sample = tmp_path / "sample" / "test_sample.py"
    sample.parent.mkdir(exist_ok=True)
    sample.write_text(SAMPLE)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_TEST_")}
    environ.update(MP_TEST_ARTIFACTS=str(tmp_path / "artifacts"), **env)
    return subprocess.run([str(SCRIPT), *args, str(sample)], cwd=REPO,
                          env=environ, capture_output=True, text=True, timeout=110)


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout.strip().splitlines()[-1]


def test_a_skipped_test_fails_the_run_and_is_named(tmp_path: Path) -> None:
    done = run_script(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    # the node id is relative to pytest's rootdir, which depends on where the checkout lies
    named = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED ")
             and line.endswith("test_sample.py::test_skips: nothing to test here")]
    assert named, done.stdout
    assert "skips not allowed" in done.stdout
    assert last_line(done) == \
        "scripts/test: 1 passed, 0 failed, 1 skipped, 1 xfailed (exit status 1)"


def test_a_skip_on_the_allowed_list_passes(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed.txt"
    allowed.write_text("# a comment\n*test_sample.py::test_skips | the sample skips on purpose\n")
    done = run_script(tmp_path, MODELPORT_TEST_ALLOWED_SKIPS=str(allowed))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "skips not allowed" not in done.stdout
    assert last_line(done) == "scripts/test: 1 passed, 0 failed, 1 skipped, 1 xfailed"


def test_an_allowed_skip_without_a_reason_is_refused(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed.txt"
    allowed.write_text("*test_sample.py::test_skips\n")
    done = run_script(tmp_path, MODELPORT_TEST_ALLOWED_SKIPS=str(allowed))
    assert done.returncode != 0
    assert f"{allowed}:1: an entry is 'NODE_ID_PATTERN | REASON', with a reason" in done.stderr
    assert "no results" in last_line(done)


def test_a_dead_docker_engine_fails_the_set_up(tmp_path: Path) -> None:
    dead = tmp_path / "dead.sock"
    done = run_script(tmp_path, DOCKER_HOST=f"unix://{dead}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "setup: docker engine ... FAILED" in done.stderr
    assert f"no Docker engine answers at DOCKER_HOST=unix://{dead}" in done.stderr
    assert "passed" not in done.stdout  # pytest never ran


def test_the_set_up_names_the_engine_and_browser_it_found(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed.txt"
    allowed.write_text("*::test_skips | on purpose\n")
    done = run_script(tmp_path, MODELPORT_TEST_ALLOWED_SKIPS=str(allowed))
    url = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    assert f"setup: docker engine ... answers at {url}" in done.stdout, done.stdout
    assert "setup: chromium ... /" in done.stdout


def test_the_docker_fixture_fails_not_skips_when_the_engine_is_gone(tmp_path: Path) -> None:
    """The set-up checks the engine; should it be gone when a test asks for it, the test fails."""
    sample = tmp_path / "engine"
    sample.mkdir()
    (sample / "conftest.py").write_text("from tests.conftest import docker_engine  # noqa\n")
    (sample / "test_engine.py").write_text("def test_needs_docker(docker_engine):\n    pass\n")
    dead = f"unix://{tmp_path / 'gone.sock'}"
    environ = {**os.environ, engines.DOCKER_ENV: dead, engines.WAIT_ENV: "0.5"}
    done = subprocess.run(
        [str(REPO / ".venv/bin/python"), "-m", "pytest", "-p", "no:cacheprovider",
         "-p", "tests.support.skips", "-rA", str(sample)],
        cwd=REPO, env=environ, capture_output=True, text=True, timeout=110)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"no Docker engine answers at {dead}" in done.stdout
    assert "1 error" in done.stdout and "skipped" not in done.stdout


def test_a_broker_of_its_own_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "runs only as root" in (RabbitInstance.missing() or "")


def test_the_repo_allows_no_skips() -> None:
    assert read_allowed(REPO / "tests" / "allowed-skips.txt") == []


# --- the engine fixture's ping: retried, then a failure naming the engine --------------------


@pytest.fixture
def flaky_engine(tmp_path: Path) -> Iterator[tuple[str, list[int]]]:
    """A unix socket that hangs up on its first connection and answers ``/_ping`` with 200
    from the second on; yields its URL and the list of connections it accepted."""
    path = tmp_path / "engine.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                accepted.append(1)
                if len(accepted) > 1:
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"unix://{path}", accepted
    finally:
        server.close()
        thread.join(5)


def test_the_ping_is_retried_until_the_engine_answers(
    flaky_engine: tuple[str, list[int]],
) -> None:
    url, accepted = flaky_engine
    assert engines.wait_for_engine(url, deadline_s=10) == 2
    assert len(accepted) == 2


def test_no_engine_fails_with_its_url_after_the_deadline(tmp_path: Path) -> None:
    url = f"unix://{tmp_path / 'nobody.sock'}"
    with pytest.raises(engines.Missing, match=f"no Docker engine answers at {url} "
                                              r"\([3-9] pings in 1 s"):
        engines.wait_for_engine(url, deadline_s=1)


def test_the_engine_url_is_the_set_ups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    monkeypatch.setenv(engines.DOCKER_ENV, "unix:///run/found-by-setup.sock")
    assert engines.docker_url() == "unix:///run/found-by-setup.sock"
    monkeypatch.delenv(engines.DOCKER_ENV)
    assert engines.docker_url() == "tcp://127.0.0.1:1"
    monkeypatch.delenv("DOCKER_HOST")
    assert engines.docker_url() == "unix:///var/run/docker.sock"


def test_no_chromium_fails_with_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setenv(engines.CHROMIUM_ENV, str(tmp_path / "no-chromium"))
    with pytest.raises(engines.Missing, match="apt-get install chromium"):
        engines.chromium_path()
