"""How fast the session agent serves, on this machine without a container: process spawn →
``ready`` (cold), ``start`` → ``ready`` in an agent that already preloaded (warm, as in a warm
container), ready → first page answered, and the idle agent's resident memory. Prints figures
only; the last line is ``session_agent: key=value …``.

    .venv/bin/python bench/session_agent.py [--runs 10] [--app examples/transport]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from modelport.agent.session_protocol import (  # noqa: E402
    PingCommand,
    ReadyEvent,
    StartCommand,
    StopCommand,
)
from tests.agent.session_host import SessionHost  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def one(app: Path) -> dict[str, float]:
    host = SessionHost()
    spawned = time.perf_counter()
    await host.launch()
    await host.send(PingCommand(id="warm"))
    await host.wait_for(lambda m: m.type == "pong", 60)
    preloaded = time.perf_counter()
    await host.send(StartCommand(app=str(app), port=0, host="127.0.0.1", autosave_s=0))
    ready = await host.wait_for(lambda m: m.type in ("ready", "error"), 60)
    started = time.perf_counter()
    assert isinstance(ready, ReadyEvent), ready
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{ready.port}/api/data") as page:
            assert page.status == 200
            await page.read()
    answered = time.perf_counter()
    assert host.proc is not None
    memory = rss_mb(host.proc.pid)
    await host.send(StopCommand(reason="bench"))
    await host.exit_code()
    await host.close()
    return {"cold_ms": (started - spawned) * 1000, "warm_ms": (started - preloaded) * 1000,
            "first_data_ms": (answered - started) * 1000, "idle_rss_mb": memory}


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--app", type=Path, default=REPO / "examples" / "transport")
    args = parser.parse_args()
    runs = [await one(args.app.resolve()) for _ in range(args.runs)]
    figures = {}
    for key in ("cold_ms", "warm_ms", "first_data_ms", "idle_rss_mb"):
        values = [r[key] for r in runs]
        print(f"{key:14} p50 {statistics.median(values):8.1f}  p95 {p(values, 0.95):8.1f}  "
              f"min {min(values):8.1f}  max {max(values):8.1f}")
        figures[key.replace("_ms", "_p50_ms")] = statistics.median(values)
    print(f"app {args.app.name}, {args.runs} runs, python {sys.version.split()[0]}")
    print("session_agent: " + " ".join(f"{k}={v:.1f}" for k, v in figures.items()))


if __name__ == "__main__":
    asyncio.run(main())
