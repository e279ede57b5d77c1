"""Many idle data sessions on one host: memory per session and the proxy's overhead.

Starts the session platform of bench/sessions.py (backend + portal on a fresh database, vhost
and bucket; an in-process session_svc with the real agent on the local Docker engine), opens
``--sessions`` sessions of ``transport`` (``--batch`` at a time, each until its page answers
through the portal's proxy), lets them settle, then measures, with all of them open:

1. the memory of every idle session container (``docker stats``: the cgroup's usage, what the
   host really gives the session): median, p95, max;
2. small requests (``GET /s/{id}/api/status``, ~100 bytes) to one of the sessions, ``--requests``
   of them, alternating between the portal's proxy (bearer token) and the agent's own address
   (what the proxy itself connects to): p50/p99 of each and of the difference.

    .venv/bin/python bench/many_sessions.py [--sessions 100] [--requests 2000]

Last line: ``many_sessions: sessions=… idle_mb_median=… idle_mb_max=… direct_p99_ms=…
proxy_p99_ms=… overhead_p50_ms=… overhead_p99_ms=…``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import pct, run_on_own_stack  # noqa: E402
from bench.sessions import AGENT, DOCKER, launch, stop  # noqa: E402
from common.docker.settings import DockerSettings, HostConfig  # noqa: E402
from common.logging import configure_logging  # noqa: E402
from common.settings import PackageSettings, S3Settings  # noqa: E402
from session_svc.service import SessionService  # noqa: E402
from session_svc.settings import SessionSettings  # noqa: E402
from tests.e2e.runtime import e2e_runtime  # noqa: E402
from tests.sessions.platform import SessionPlatform, session_platform  # noqa: E402
from tests.support import infra  # noqa: E402

SESSION_MB = 192  # the container's limit; what an idle session uses is measured


async def roomy_service(s: SessionPlatform, sessions: int) -> None:
    """Replace the platform's session worker by one whose host has room for ``sessions``."""
    old = s.service
    await old.stop()
    values: dict[str, Any] = {**old.settings.model_dump(),
                              "instance_id": f"sess-{uuid.uuid4().hex[:6]}"}
    values["amqp_url"] = old.settings.amqp_url.get_secret_value()
    local = old.docker_settings.hosts[0]
    docker = DockerSettings(
        hosts=[HostConfig(name=local.name, url=local.url, slots=sessions + 2,
                          memory_mb=(sessions + 2) * SESSION_MB)],
        service=old.docker_settings.service, warm_per_runtime=0)
    s.service = SessionService(
        SessionSettings.model_validate(values), docker=docker, s3=old.s3_settings,
        packages=PackageSettings(platform_key_file=old.package_settings.platform_key_file))
    await s.service.start()


async def open_all(s: SessionPlatform, count: int, batch: int) -> list[str]:
    opened: list[str] = []
    async with aiohttp.ClientSession() as http:
        while len(opened) < count:
            n = min(batch, count - len(opened))
            began = time.perf_counter()
            launched = await asyncio.gather(*(launch(s, http) for _ in range(n)))
            opened += [session_id for _, session_id in launched]
            print(f"  {len(opened):4d} open (last {n} in {time.perf_counter() - began:5.1f} s)",
                  flush=True)
    return opened


async def memory_mb(containers: list[str]) -> list[float]:
    proc = await asyncio.create_subprocess_exec(
        "docker", "stats", "--no-stream", "--format", "{{json .}}", *containers,
        stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    return [_mb(json.loads(row)["MemUsage"].split("/")[0].strip())
            for row in out.decode().splitlines() if row.strip()]


def _mb(usage: str) -> float:
    units = {"KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "B": 1 / 1024 / 1024}
    for unit, factor in units.items():
        if usage.endswith(unit):
            return float(usage[: -len(unit)]) * factor
    raise ValueError(f"unexpected docker stats usage {usage!r}")


async def agent_address(s: SessionPlatform, session_id: str) -> str:
    """http://IP:port of the session's agent on the sessions' network (where the proxy goes)."""
    proc = await asyncio.create_subprocess_exec(
        "docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}",
        s.container_of(session_id), stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    ip = json.loads(out)[s.network]["IPAddress"]
    return f"http://{ip}:{s.service.settings.agent_port}"


async def timed_get(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> float:
    began = time.perf_counter()
    async with http.get(url, headers=headers) as reply:
        await reply.read()
        assert reply.status == 200, reply.status
    return time.perf_counter() - began


async def proxy_vs_direct(s: SessionPlatform, session_id: str,
                          requests: int) -> tuple[list[float], list[float]]:
    path = f"/s/{session_id}/api/status"
    proxied, direct_url = s.stack.url(path), await agent_address(s, session_id) + path
    headers = s.stack.admin_headers
    via_proxy: list[float] = []
    direct: list[float] = []
    async with aiohttp.ClientSession() as http:
        for _ in range(50):  # warm both connection pools and the token cache
            await timed_get(http, proxied, headers)
            await timed_get(http, direct_url, {})
        for _ in range(requests):
            via_proxy.append(await timed_get(http, proxied, headers))
            direct.append(await timed_get(http, direct_url, {}))
    return via_proxy, direct


def ms(value: float) -> str:
    return f"{value * 1000:.2f}"


async def bench(args: argparse.Namespace, s3: S3Settings, amqp_url: str, work: Path) -> None:
    runtime = e2e_runtime()
    database = await infra.create_database()
    os.environ["MODELPORT_MAX_SESSIONS_PER_USER"] = str(args.sessions)  # at most 100
    label = f"mp-bench-{uuid.uuid4().hex[:6]}"
    try:
        async with session_platform(infra.dsn_for(database), amqp_url, s3, work,
                                    runtime=runtime, docker_url=DOCKER, label=label,
                                    agent_command=AGENT, report_interval_s=1.0,
                                    session_memory_mb=SESSION_MB,
                                    idle_timeout_s=3600.0) as s:
            await roomy_service(s, args.sessions)
            print(f"opening {args.sessions} sessions of transport, {args.batch} at a time:")
            opened = await open_all(s, args.sessions, args.batch)
            await asyncio.sleep(args.settle_s)  # idle means idle
            mem = await memory_mb([s.container_of(i) for i in opened])
            via_proxy, direct = await proxy_vs_direct(s, opened[len(opened) // 2],
                                                      args.requests)
            async with aiohttp.ClientSession() as http:
                for i in range(0, len(opened), args.batch):
                    await asyncio.gather(*(stop(s, http, sid)
                                           for sid in opened[i:i + args.batch]))
            await s.service.stop()  # ours; the platform stops the one it started
    finally:
        await infra.drop_database(database)
    extra = [p - d for p, d in zip(via_proxy, direct, strict=True)]
    print(f"idle session memory over {len(mem)} containers: median "
          f"{statistics.median(mem):.1f} MB, p95 {pct(mem, 0.95):.1f} MB, max {max(mem):.1f} MB, "
          f"total {sum(mem):.0f} MB")
    print(f"GET /s/{{id}}/api/status, {args.requests} each, alternating, "
          f"{len(opened)} sessions open:")
    for name, values in (("direct to the agent", direct), ("through the portal", via_proxy),
                         ("proxy - direct (pairwise)", extra)):
        print(f"  {name:<26} p50 {ms(statistics.median(values)):>7} ms   "
              f"p95 {ms(pct(values, 0.95)):>7} ms   p99 {ms(pct(values, 0.99)):>7} ms")
    print(f"many_sessions: sessions={len(opened)} idle_mb_median={statistics.median(mem):.1f} "
          f"idle_mb_max={max(mem):.1f} direct_p99_ms={ms(pct(direct, 0.99))} "
          f"proxy_p99_ms={ms(pct(via_proxy, 0.99))} "
          f"overhead_p50_ms={ms(statistics.median(extra))} "
          f"overhead_p99_ms={ms(pct(via_proxy, 0.99) - pct(direct, 0.99))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--batch", type=int, default=10, help="sessions launched at once")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--settle-s", type=float, default=10.0)
    parser.add_argument("--log-level", default="error", help="of the services (to stderr)")
    args = parser.parse_args()
    configure_logging("console", args.log_level)
    run_on_own_stack(bench, args, "mp-bench-many-")


if __name__ == "__main__":
    main()
