"""Data sessions on the real platform: launch latency, a burst, idle memory. Prints figures only.

Starts backend + portal on a fresh database, vhost and bucket with the runtime registered and
the examples published (tests/sessions/platform.py), and an in-process session_svc with the
real agent on its isolated network on the local Docker engine (containers under a bench label,
removed at the end). Measures, in the same run:

1. launch → first ``GET /s/{id}/`` answered 200 through the portal's proxy (POST
   /api/v1/sessions, then the proxy asked until it answers), p50/p95 over ``--runs`` serial
   launches of ``transport``: cold (no warm pool: a fresh container per session) and warm (a
   waiting container of the sessions' warm pool, refilled between runs);
   (the launch waits for the ``modelport.session.ready`` event, then asks the proxy: polling
   the proxy meanwhile would load the very services being measured);
2. the same image and agent started by a raw ``docker run -i`` (host network, the app
   bind-mounted, ``start`` on stdin) until its HTTP port answers;
3. five sessions launched at once (warm pool of five): time until all answer through the proxy;
4. the memory of an idle session (its container's RSS, from ``docker stats``).

    .venv/bin/python bench/sessions.py [--runs 20]

Last line: ``sessions: warm_p50_ms=… cold_p50_ms=… raw_p50_ms=… five_at_once_ms=… idle_mb=…``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import line, run_on_own_stack, summary  # noqa: E402
from common.logging import configure_logging  # noqa: E402
from common.settings import PackageSettings, S3Settings  # noqa: E402
from session_svc.service import SessionService  # noqa: E402
from session_svc.settings import SessionSettings  # noqa: E402
from tests.e2e.runtime import E2ERuntime, e2e_runtime  # noqa: E402
from tests.sessions.platform import SessionPlatform, session_platform  # noqa: E402
from tests.support import infra  # noqa: E402

DOCKER = "unix:///var/run/docker.sock"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
AGENT = ["python", "-m", "modelport.agent", "session"]
DEADLINE_S = 120.0


async def answered(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> None:
    """Return once ``url`` answers 200 (asked every 5 ms)."""
    async with asyncio.timeout(DEADLINE_S):
        while True:
            try:
                async with http.get(url, headers=headers, allow_redirects=False) as reply:
                    await reply.read()
                    if reply.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.005)


async def launch(s: SessionPlatform, http: aiohttp.ClientSession) -> tuple[float, str]:
    """Seconds from POST /api/v1/sessions to the first 200 of /s/{id}/; and the id."""
    headers = s.stack.admin_headers
    began = time.perf_counter()
    async with http.post(s.stack.url("/api/v1/sessions"), json={"app": "transport"},
                         headers=headers) as reply:
        session = await reply.json()
        assert reply.status == 201, session
    session_id = str(session["id"])
    await s.platform.tap.wait_for(  # the worker reports ready once the agent answers HTTP
        lambda e: e["subject"] == session_id and e["type"] == "modelport.session.ready",
        DEADLINE_S)
    await answered(http, s.stack.url(f"/s/{session_id}/"), headers)
    return time.perf_counter() - began, session_id


async def stop(s: SessionPlatform, http: aiohttp.ClientSession, session_id: str) -> None:
    async with http.delete(s.stack.url(f"/api/v1/sessions/{session_id}"),
                           headers=s.stack.admin_headers) as reply:
        assert reply.status == 200, await reply.text()
    await s.settled(session_id, leave=("ready", "stopping"))


async def serial(s: SessionPlatform, runs: int, warm: bool) -> list[float]:
    times = []
    async with aiohttp.ClientSession() as http:
        for _ in range(runs):
            if warm:
                await _filled(s, 1)
            took, session_id = await launch(s, http)
            times.append(took)
            await stop(s, http, session_id)
    return times


async def _filled(s: SessionPlatform, count: int) -> None:
    pool = s.service._warm["local"]  # noqa: SLF001 - the bench waits for the refill
    runtime = next(iter(pool._runtimes), None)  # noqa: SLF001
    if runtime is not None:
        await asyncio.wait_for(pool.wait_filled(runtime, count), DEADLINE_S)


async def five_at_once(s: SessionPlatform) -> tuple[float, float]:
    """Seconds until five sessions launched together all answer; and one's idle RSS (MB)."""
    await _filled(s, 5)
    async with aiohttp.ClientSession() as http:
        began = time.perf_counter()
        launched = await asyncio.gather(*(launch(s, http) for _ in range(5)))
        took = time.perf_counter() - began
        await asyncio.sleep(3.0)  # let the agents settle: idle means idle
        rss = await idle_mb(s.container_of(launched[0][1]))
        for _, session_id in launched:
            await stop(s, http, session_id)
    return took, rss


async def idle_mb(container: str) -> float:
    proc = await asyncio.create_subprocess_exec(
        "docker", "stats", "--no-stream", "--format", "{{json .}}", container,
        stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    usage = json.loads(out)["MemUsage"].split("/")[0].strip()
    number = float(usage.rstrip("KMGiB"))
    return number / 1024 if usage.endswith("KiB") else number * (1024 if "GiB" in usage else 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def raw_docker_run(runtime: E2ERuntime, runs: int) -> list[float]:
    """Seconds from ``docker run -i`` of the runtime image (the agent's session mode) to its
    HTTP port answering 200."""
    times = []
    async with aiohttp.ClientSession() as http:
        for _ in range(runs):
            port, name = free_port(), f"mp-bench-raw-{uuid.uuid4().hex[:8]}"
            start = {"v": 1, "type": "start", "app": "/app", "port": port, "host": "127.0.0.1",
                     "base_path": "/s/raw/", "autosave_s": 0}
            began = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                "docker", "run", "-i", "--rm", "--name", name, "--network", "host",
                "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
                "--security-opt", "no-new-privileges", "--user", "10001:10001",
                "-v", f"{EXAMPLES / 'transport'}:/app:ro", runtime.image_id, *AGENT,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL)
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(start).encode() + b"\n")
            await proc.stdin.drain()
            await answered(http, f"http://127.0.0.1:{port}/s/raw/", {})
            times.append(time.perf_counter() - began)
            proc.stdin.close()
            rm = await asyncio.create_subprocess_exec("docker", "rm", "-f", name,
                                                      stdout=asyncio.subprocess.DEVNULL,
                                                      stderr=asyncio.subprocess.DEVNULL)
            await rm.wait()
            await proc.wait()
    return times


async def swap_service(s: SessionPlatform, warm: int) -> None:
    """Replace the platform's session worker by one with a warm pool of ``warm``."""
    old = s.service
    await old.stop()
    values: dict[str, Any] = {**old.settings.model_dump(), "warm_sessions": warm,
                              "instance_id": f"sess-{uuid.uuid4().hex[:6]}"}
    values["amqp_url"] = old.settings.amqp_url.get_secret_value()
    s.service = SessionService(
        SessionSettings.model_validate(values), docker=old.docker_settings,
        s3=old.s3_settings, packages=PackageSettings(
            platform_key_file=old.package_settings.platform_key_file))
    await s.service.start()
    async with aiohttp.ClientSession() as http:  # one launch adds the runtime to the pool
        _, session_id = await launch(s, http)
        await stop(s, http, session_id)


async def bench(args: argparse.Namespace, s3: S3Settings, amqp_url: str, work: Path) -> None:
    runtime = e2e_runtime()
    database = await infra.create_database()
    os.environ["MODELPORT_MAX_SESSIONS_PER_USER"] = "10"
    label = f"mp-bench-{uuid.uuid4().hex[:6]}"
    try:
        async with session_platform(infra.dsn_for(database), amqp_url, s3, work,
                                    runtime=runtime, docker_url=DOCKER, label=label,
                                    agent_command=AGENT, report_interval_s=1.0,
                                    session_memory_mb=512) as s:
            raw = await raw_docker_run(runtime, args.runs)
            cold = await serial(s, args.runs, warm=False)
            await swap_service(s, 1)
            warm = await serial(s, args.runs, warm=True)
            await swap_service(s, 5)
            burst, rss = await five_at_once(s)
    finally:
        await infra.drop_database(database)
    raw_p50, raw_p95 = summary(raw)
    print(f"launch -> first GET /s/{{id}}/ 200, transport, {args.runs} runs each (serial):")
    print(f"  {'raw docker run -i':<26} p50 {raw_p50 * 1000:7.0f} ms   "
          f"p95 {raw_p95 * 1000:7.0f} ms")
    print(line("platform, cold", cold, raw_p50, width=26, raw="raw"))
    print(line("platform, warm pool", warm, raw_p50, width=26, raw="raw"))
    print(f"  five launched at once, all answering: {burst * 1000:.0f} ms")
    print(f"  idle session RSS: {rss:.1f} MB")
    print(f"sessions: warm_p50_ms={statistics.median(warm) * 1000:.0f} "
          f"cold_p50_ms={statistics.median(cold) * 1000:.0f} raw_p50_ms={raw_p50 * 1000:.0f} "
          f"five_at_once_ms={burst * 1000:.0f} idle_mb={rss:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--log-level", default="error", help="of the services (to stderr)")
    args = parser.parse_args()
    configure_logging("console", args.log_level)
    run_on_own_stack(bench, args, "mp-bench-sessions-")


if __name__ == "__main__":
    main()
