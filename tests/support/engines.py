"""The Docker engine and the Chromium the tests use: the ones the set-up checked.

``scripts/test`` (``scripts/lib.sh``) exports ``MODELPORT_TEST_DOCKER_URL`` and
``MODELPORT_TEST_CHROMIUM`` once it has found them. Run without it, the same lookups are made
here: ``$DOCKER_HOST``, else the local socket; ``chromium`` on ``PATH``. Whatever is missing
raises :class:`Missing` with what to do; the fixtures turn that into a failure, never a skip.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from common.docker.settings import LOCAL_SOCKET

DOCKER_ENV = "MODELPORT_TEST_DOCKER_URL"
CHROMIUM_ENV = "MODELPORT_TEST_CHROMIUM"
WAIT_ENV = "MODELPORT_TEST_DOCKER_WAIT_S"  # how long the fixture pings: default 30 s
PING_TIMEOUT_S = 3.0


class Missing(Exception):
    """Something the tests need is not there; the message says what and how to get it."""


def docker_url() -> str:
    """The engine's URL: the set-up's, else ``$DOCKER_HOST``, else the local socket."""
    return os.environ.get(DOCKER_ENV) or os.environ.get("DOCKER_HOST") or LOCAL_SOCKET


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str, timeout_s: float) -> None:
        super().__init__("localhost", timeout=timeout_s)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def _connection(url: str, timeout_s: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return _UnixHTTP(parts.path, timeout_s)
    if parts.scheme in ("tcp", "http") and parts.hostname:
        return http.client.HTTPConnection(parts.hostname, parts.port or 2375, timeout=timeout_s)
    raise Missing(f"the tests cannot ping a Docker engine at {url!r} "
                  "(unix:///path.sock or tcp://host:port without TLS)")


def ping(url: str, timeout_s: float = PING_TIMEOUT_S) -> None:
    """One ``GET /_ping``; raises OSError unless the engine answers 200."""
    conn = _connection(url, timeout_s)
    try:
        conn.request("GET", "/_ping")
        status = conn.getresponse().status
    except http.client.HTTPException as exc:
        raise OSError(f"bad answer: {exc!r}") from exc
    finally:
        conn.close()
    if status != 200:
        raise OSError(f"/_ping answered {status}")


def engine_wait_s() -> float:
    return float(os.environ.get(WAIT_ENV) or 30.0)


def wait_for_engine(url: str, deadline_s: float = 30.0) -> int:
    """Ping ``url`` until it answers (returns the number of attempts) or ``deadline_s``
    passes (raises Missing naming the engine and the last error). Waits 0.1 s after the
    first failure, doubling up to 2 s."""
    end = time.monotonic() + deadline_s
    pause, attempts = 0.1, 0
    while True:
        attempts += 1
        try:
            ping(url, min(PING_TIMEOUT_S, max(end - time.monotonic(), 0.1)))
            return attempts
        except OSError as exc:
            if time.monotonic() + pause > end:
                raise Missing(
                    f"no Docker engine answers at {url} ({attempts} pings in {deadline_s:g} s, "
                    f"last: {exc}); ./scripts/test starts one, or set DOCKER_HOST") from None
        time.sleep(pause)  # a retry interval between pings, not a wait for a result
        pause = min(pause * 2, 2.0)


def chromium_path() -> Path:
    """Chromium's executable: the set-up's, else ``chromium`` on PATH; Missing when none."""
    found = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium")
    if not found or not Path(found).is_file():
        raise Missing(f"the browser tests need Chromium (looked for {found or 'chromium on PATH'}"
                      "); Debian: apt-get install chromium, or run ./scripts/test as root")
    return Path(found)
