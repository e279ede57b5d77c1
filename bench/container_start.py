"""How fast a hardened runtime container gets to run Python: cold, from the warm pool, and a
raw ``docker run --rm IMAGE python -c pass`` measured in the same run. Prints figures only.

    .venv/bin/python bench/container_start.py [--runs 20] [--image TAG]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from common.docker import (
    ContainerRequest,
    DockerHost,
    HostConfig,
    Limits,
    WarmPool,
    adopt_or_sweep,
    create_started,
    exec_run,
    remove,
)

REPO = Path(__file__).resolve().parents[1]
PASS = ["python", "-c", "pass"]
IDLE = ["sleep", "infinity"]
LIMITS = Limits(memory_mb=512)


def _runtime_image() -> str:
    script = REPO / "deploy/runtime/build-runtime-image.sh"
    out = subprocess.run([str(script)], check=True, text=True, capture_output=True).stdout
    return out.strip().splitlines()[-1]


def _image_id(tag: str) -> str:
    out = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", tag],
                         check=True, text=True, capture_output=True).stdout
    return out.strip()


async def _timed(runs: int, one: Callable[[int], Awaitable[float]]) -> list[float]:
    return [await one(i) for i in range(runs)]


async def _cold(host: DockerHost, image: str, i: int) -> float:
    request = ContainerRequest(host.service, "job", f"cold{i}", 1, "bench", image, IDLE, LIMITS)
    started = time.perf_counter()
    container = await create_started(host, request)
    result = await exec_run(container, PASS)
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.stderr
    await remove(container)
    return elapsed


async def _warm(pool: WarmPool, image: str, i: int) -> float:
    await pool.wait_filled("bench")  # measure a pool that has one ready, as in steady state
    started = time.perf_counter()
    container = await pool.acquire("bench", image, kind="job", id=f"warm{i}", attempt=1,
                                   service=pool.host.service)
    result = await exec_run(container, PASS)
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.stderr
    await remove(container)
    return elapsed


async def _raw(image: str, _: int) -> float:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        "docker", "run", "--rm", "--network", "none", image, *PASS)
    assert await proc.wait() == 0
    return time.perf_counter() - started


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _report(figures: dict[str, list[float]]) -> None:
    base = statistics.median(figures["raw docker run"])
    print(f"{'':34} {'median':>8} {'p95':>8} {'ratio':>6}  (n={len(figures['raw docker run'])})")
    for name, values in figures.items():
        median = statistics.median(values)
        print(f"{name:34} {median * 1000:7.0f}ms {_p95(values) * 1000:7.0f}ms"
              f" {median / base:6.2f}")


async def main(runs: int, tag: str | None) -> None:
    image = _image_id(tag or _runtime_image())
    service = f"mp-bench-{uuid.uuid4().hex[:8]}"
    async with DockerHost(HostConfig(name="local"), service=service) as host:
        pool = WarmPool(host, size=2, limits=LIMITS, idle_cmd=IDLE)
        try:
            pool.add_runtime("bench", image)
            figures = {
                "raw docker run": await _timed(runs, lambda i: _raw(image, i)),
                "cold hardened create+start+exec": await _timed(
                    runs, lambda i: _cold(host, image, i)),
                "warm acquire+exec": await _timed(runs, lambda i: _warm(pool, image, i)),
            }
        finally:
            await pool.close()
            await adopt_or_sweep(host, [])
    _report(figures)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, choices=range(1, 201), metavar="1..200")
    parser.add_argument("--image", help="runtime image tag (default: build-runtime-image.sh)")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.image))
