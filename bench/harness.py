"""What the platform benchmarks share: percentiles, the "vs raw docker run" line, and running
a benchmark against a fresh vhost and a SeaweedFS S3 of its own."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from common.settings import S3Settings
from modelport.devstack.weed import WeedServer
from tests.support import infra

Bench = Callable[[argparse.Namespace, S3Settings, str, Path], Coroutine[Any, Any, None]]


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used, from /proc (0 when gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> tuple[float, float]:
    """Median and p95."""
    return statistics.median(values), pct(values, 0.95)


def line(name: str, values: list[float], raw_p50: float, *, width: int = 22,
         raw: str = "raw docker run") -> str:
    """One row: p50 and p95 of ``values`` in ms and the p50 against the raw docker run's."""
    p50, p95 = summary(values)
    return (f"  {name:<{width}} p50 {p50 * 1000:7.0f} ms   p95 {p95 * 1000:7.0f} ms   "
            f"p50 / {raw} {p50 / raw_p50:5.2f}")


def run_on_own_stack(bench: Bench, args: argparse.Namespace, prefix: str) -> None:
    """Run ``bench(args, s3, amqp_url, work)`` with a fresh vhost, a SeaweedFS S3 server and a
    bucket of its own and a work folder, all removed afterwards."""
    vhosts = infra.VhostPool(batch=1)
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        weed = WeedServer(Path(tmp) / "weed")
        weed.start()
        try:
            _, amqp_url = vhosts.take()
            s3 = S3Settings(endpoint_url=weed.endpoint, bucket=infra.unique("mp-bench-"))
            (Path(tmp) / "work").mkdir()
            asyncio.run(bench(args, s3, amqp_url, Path(tmp) / "work"))
        finally:
            weed.stop()
            vhosts.close()
