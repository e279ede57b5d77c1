"""Solve jobs end to end on the real platform: latency and throughput. Prints figures only.

Starts backend + portal (tests/support/stack.py) on a fresh database, vhost and bucket with
the real runtime uploaded through the API and the examples published, and in-process
solve_svc workers on the local Docker engine (containers under a bench label, removed at
the end). Measures, in the same run:

1. submit → succeeded of the ``transport`` job (POST /api/v1/jobs until its
   ``modelport.job.succeeded`` event arrives), p50/p95 over ``--runs`` serial runs, with a
   worker without warm pool (cold: a fresh container per job) and with one (warm: an idle
   container waits, refilled in the background), each right after a raw ``docker run --rm``
   of the same runtime image doing the same solve (``python -m modelport.agent run``, the
   app and an output folder bind-mounted), and the ratios to the raw runs beside them; where
   the time went (POST -> queued -> started -> succeeded -> seen, from the times backend
   stamped on the events) and the CPU ms per job of this process and of dockerd;
2. throughput: ``--jobs`` small jobs (transport) submitted at once to one worker with
   ``--slots`` slots, jobs/s from the first submit to the last success, and a check that
   every job succeeded on its first attempt with exactly one ``succeeded`` event.

The last line is ``jobs: raw_p50_ms=… cold_p50_ms=… cold_ratio=… warm_p50_ms=…
warm_ratio=…``. The worker logs ``job_steps`` (ms per step) for each attempt at log level
info (``--log-level info``).

    .venv/bin/python bench/jobs.py [--runs 30] [--jobs 200] [--slots 4]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import cpu_s, line, run_on_own_stack, summary  # noqa: E402
from common.logging import configure_logging  # noqa: E402
from common.settings import S3Settings  # noqa: E402
from solve_svc.service import SolveService  # noqa: E402
from tests.e2e.platform import TERMINAL, Platform, running_platform, sweep  # noqa: E402
from tests.e2e.runtime import E2ERuntime, e2e_runtime  # noqa: E402
from tests.support import infra  # noqa: E402

DOCKER = "unix:///var/run/docker.sock"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
JOB_DEADLINE_S = 120.0


PHASES = ("POST -> queued", "queued -> started", "started -> succeeded",
          "succeeded -> seen")


async def one_job(p: Platform, phases: dict[str, list[float]] | None = None) -> float:
    """Seconds from POST /api/v1/jobs to the job's succeeded event; with ``phases``, adds
    where they went, from the ``time`` backend stamped on each event (same machine clock)."""
    posted, began = time.time(), time.perf_counter()
    job = await p.submit("transport")
    await p.tap.wait_for(lambda e: e["subject"] == job["id"] and e["type"] in TERMINAL,
                         JOB_DEADLINE_S)
    seen, elapsed = time.time(), time.perf_counter() - began
    done = await p.job(job["id"])  # not timed: the event is when the client knows
    assert done["state"] == "succeeded", done
    if phases is not None:
        at = {e["type"].rpartition(".")[2]: datetime.fromisoformat(e["time"]).timestamp()
              for e in p.events_of(str(job["id"]))}
        marks = [posted, at["queued"], at["started"], at["succeeded"], seen]
        for name, start, end in zip(PHASES, marks, marks[1:], strict=False):
            phases.setdefault(name, []).append(end - start)
    return elapsed


async def latencies(p: Platform, runs: int, *, warm: int, raw: list[float],
                    phases: dict[str, list[float]]) -> list[float]:
    """Submit -> succeeded of ``runs`` serial jobs, each right after a raw docker run (added
    to ``raw``: the baseline sees the same moment's load); ``phases`` also gets the CPU ms per
    job of this process (backend, portal and worker run in it) and of dockerd, from /proc."""
    worker = await p.start_worker(f"bench-{'warm' if warm else 'cold'}", slots=4, warm=warm)
    try:
        await asyncio.to_thread(raw_docker_run, p.runtime)  # first use of each: warm-up
        await one_job(p)  # image check, warm pool learns the runtime
        if warm:
            await _wait_warm(worker, p.runtime.version)
        values = []
        for _ in range(runs):
            raw.append(await asyncio.to_thread(raw_docker_run, p.runtime))
            cpu = CpuTime()
            values.append(await one_job(p, phases))
            cpu.lap(phases)  # the warm pool's refill below is not the job's
            if warm:
                await _wait_warm(worker, p.runtime.version)
        return values
    finally:
        await worker.stop()
        p.workers.remove(worker)


async def _wait_warm(worker: SolveService, runtime: str) -> None:
    """Let the warm pool refill (as it would between jobs that are not back to back)."""
    pool = next(iter(worker._warm.values()))
    await asyncio.wait_for(pool.wait_filled(runtime), 30)


class CpuTime:
    """CPU seconds of this process and of the Docker engine from its making to :meth:`lap`
    (added to ``phases`` as 'CPU platform' and 'CPU dockerd')."""

    def __init__(self) -> None:
        self._dockerd = int(Path("/var/run/docker.pid").read_text())
        self._began = (time.process_time(), cpu_s(self._dockerd))

    def lap(self, phases: dict[str, list[float]]) -> None:
        phases.setdefault("CPU platform", []).append(time.process_time() - self._began[0])
        phases.setdefault("CPU dockerd", []).append(cpu_s(self._dockerd) - self._began[1])


def raw_docker_run(runtime: E2ERuntime) -> float:
    """Seconds of one ``docker run --rm`` of the runtime image solving transport."""
    with tempfile.TemporaryDirectory(prefix="mp-bench-raw-") as out:
        Path(out).chmod(0o777)
        began = time.perf_counter()
        subprocess.run(
            ["docker", "run", "--rm", "--network", "none", "--label", "org.modelport.bench=1",
             "-v", f"{EXAMPLES / 'transport'}:/work/app:ro", "-v", f"{out}:/out",
             runtime.image_id, "python", "-m", "modelport.agent", "run", "--app",
             "/work/app", "--procedure", "solve", "--output", "/out/result.mpcase"],
            check=True, capture_output=True, timeout=JOB_DEADLINE_S)
        elapsed = time.perf_counter() - began
        assert (Path(out) / "result.mpcase").stat().st_size > 0
    return elapsed


async def throughput(p: Platform, jobs: int, slots: int) -> None:
    await p.start_worker("bench-throughput", slots=slots)
    await one_job(p)
    began = time.perf_counter()
    ids = [str((await p.submit("transport"))["id"]) for _ in range(jobs)]
    for job_id in ids:
        await p.finished(job_id, timeout_s=JOB_DEADLINE_S + jobs * 5.0 / slots)
    elapsed = time.perf_counter() - began
    wanted = set(ids)
    succeeded = Counter(e["subject"] for e in p.tap.of_type("modelport.job.succeeded")
                        if e["subject"] in wanted)
    started = Counter(e["subject"] for e in p.tap.of_type("modelport.job.started")
                      if e["subject"] in wanted)
    finals = [await p.job(i) for i in ids]
    states = Counter(j["state"] for j in finals)
    reasons = Counter(j["reason"] for j in finals if j["state"] != "succeeded")
    lost = sum(1 for i in ids if succeeded[i] == 0)
    twice = sum(1 for i in ids if succeeded[i] > 1 or started[i] > 1)
    print(f"throughput: {jobs} transport jobs, {slots} slots: {elapsed:.1f} s, "
          f"{jobs / elapsed:.2f} jobs/s")
    print(f"  check: states {dict(states)}; lost {lost}; run twice {twice} -> "
          f"{'OK' if lost == 0 and twice == 0 and states == Counter(succeeded=jobs) else 'FAIL'}"
          + (f"; reasons {dict(reasons)}" if reasons else ""))


async def bench(args: argparse.Namespace, s3: S3Settings, amqp_url: str, work: Path) -> None:
    runtime = e2e_runtime()
    database = await infra.create_database()
    label = f"mp-bench-{uuid.uuid4().hex[:6]}"
    try:
        async with running_platform(infra.dsn_for(database), amqp_url, s3, work,
                                    runtime=runtime, docker_url=DOCKER, label=label) as p:
            cold_phases: dict[str, list[float]] = {}
            warm_phases: dict[str, list[float]] = {}
            raw_cold: list[float] = []
            raw_warm: list[float] = []
            cold = await latencies(p, args.runs, warm=0, raw=raw_cold, phases=cold_phases)
            warm = await latencies(p, args.runs, warm=1, raw=raw_warm, phases=warm_phases)
            print(f"submit -> succeeded, transport, {args.runs} runs each (serial), each "
                  "platform run right after a raw docker run:")
            print(f"  {'raw docker run':<22} p50 {summary(raw_cold + raw_warm)[0] * 1000:7.0f} ms"
                  f"   p95 {summary(raw_cold + raw_warm)[1] * 1000:7.0f} ms")
            print(line("platform, cold", cold, summary(raw_cold)[0],
                       raw="raw run beside it"))
            print(line("platform, warm pool", warm, summary(raw_warm)[0],
                       raw="raw run beside it"))
            print("  where it went, p50 ms (cold / warm), from the events' times:")
            for name in (*PHASES, "CPU platform", "CPU dockerd"):
                print(f"    {name:<22} {summary(cold_phases[name])[0] * 1000:6.0f} / "
                      f"{summary(warm_phases[name])[0] * 1000:6.0f}")
            if args.jobs:
                await throughput(p, args.jobs, args.slots)
            cold_p50, warm_p50 = summary(cold)[0], summary(warm)[0]
            print(f"jobs: raw_p50_ms={summary(raw_cold + raw_warm)[0] * 1000:.0f} "
                  f"cold_p50_ms={cold_p50 * 1000:.0f} "
                  f"cold_ratio={cold_p50 / summary(raw_cold)[0]:.2f} "
                  f"warm_p50_ms={warm_p50 * 1000:.0f} "
                  f"warm_ratio={warm_p50 / summary(raw_warm)[0]:.2f}")
    finally:
        await sweep(DOCKER, label)
        await infra.drop_database(database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--log-level", default="error", help="of the services (to stderr)")
    args = parser.parse_args()
    configure_logging("console", args.log_level)
    run_on_own_stack(bench, args, "mp-bench-jobs-")


if __name__ == "__main__":
    main()
