"""Domain events under load: events/s on ``modelport.events`` and change -> event latency.

Starts backend_svc and portal_svc as their own processes (bench/spawned.py) on a fresh
database and vhost, queues ``--changes`` jobs straight in the database, binds a queue of its
own to ``modelport.events`` (``modelport.job.#``), then makes ``--changes`` state changes from
``--writers`` concurrent connections: each cancels one queued job in its own transaction with
the job's audit row and outbox event, as backend does (``--per-commit N``: N jobs per
transaction, as a bulk change would). The backend's outbox relay publishes
them. For each event: latency from its change's commit to its arrival here; events/s from the
first commit to the last arrival; and a check that every event arrived exactly once (by id).
Prints figures only; the last line is ``events: rate=… p50_ms=… p99_ms=… missing=… dup=…``.

    .venv/bin/python bench/events.py [--changes 10000] [--writers 8] [--per-commit 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aio_pika
import asyncpg
from aio_pika.abc import AbstractIncomingMessage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend_svc import audit, db  # noqa: E402
from backend_svc.outbox import record_event  # noqa: E402
from bench.spawned import ROOT, spawned_platform  # noqa: E402
from common.amqp import topology  # noqa: E402
from common.contracts.base import Principal  # noqa: E402
from common.contracts.jobs import JobEvent  # noqa: E402
from tests.support.deep_queue import seed_queue  # noqa: E402

ARRIVAL_DEADLINE_S = 120.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


class Arrivals:
    """Event ids with their arrival times, and a wait until ``expected`` have come."""

    def __init__(self, expected: int):
        self.times: dict[str, float] = {}
        self.ids: Counter[str] = Counter()
        self._expected = expected
        self._all = asyncio.Event()

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        arrived = time.perf_counter()
        event_id = json.loads(message.body)["id"]
        self.ids[event_id] += 1
        self.times.setdefault(event_id, arrived)
        if len(self.times) >= self._expected:
            self._all.set()

    async def wait(self, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(self._all.wait(), timeout_s)
        except TimeoutError:
            pass  # reported as missing


async def cancel(pool: asyncpg.Pool, jobs: list[asyncpg.Record]) -> list[tuple[str, float]]:
    """Cancel queued jobs in one transaction, each with its audit row and event; (event id,
    commit time) of each."""
    ids = []
    async with pool.acquire() as conn:
        async with conn.transaction():
            for job in jobs:
                await conn.execute("UPDATE jobs SET state = 'cancelled', reason = 'cancelled', "
                                   "finished_at = now(), updated_at = now() WHERE id = $1",
                                   job["id"])
                data = JobEvent(job_id=str(job["id"]), user=job["username"], app="bench",
                                attempt=0, state="cancelled", reason="cancelled",
                                interrupted=False).model_dump(mode="json")
                await audit.record(conn, Principal.SYSTEM, "job.cancel", str(job["id"]), data)
                event = await record_event(conn, JobEvent.CANCELLED, data,
                                           subject=str(job["id"]))
                ids.append(event.id)
        committed = time.perf_counter()
    return [(event_id, committed) for event_id in ids]


async def writer(pool: asyncpg.Pool, jobs: list[asyncpg.Record], per_commit: int,
                 commits: dict[str, float]) -> None:
    for start in range(0, len(jobs), per_commit):
        commits.update(await cancel(pool, jobs[start:start + per_commit]))


async def bench(args: argparse.Namespace, tmp: Path) -> None:
    backend = {"outbox_batch": str(args.outbox_batch)}
    async with spawned_platform(tmp, log_level=args.log_level, root=args.services_root,
                                backend=backend) as platform:
        pool = await db.create_pool(platform.pg_dsn, max_size=args.writers, deadline_s=10)
        connection = await aio_pika.connect(platform.amqp_url)
        try:
            async with pool.acquire() as conn:
                await seed_queue(conn, jobs=args.changes, users=10)
                jobs = await conn.fetch("SELECT j.id, u.username FROM jobs j "
                                        "JOIN users u ON u.id = j.user_id")
            arrivals = Arrivals(len(jobs))
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=1000)
            queue = await channel.declare_queue(exclusive=True)
            await queue.bind(topology.EVENTS, routing_key="modelport.job.#")
            await queue.consume(arrivals.on_message, no_ack=True)
            commits: dict[str, float] = {}
            began = time.perf_counter()
            await asyncio.gather(*(writer(pool, jobs[i::args.writers], args.per_commit, commits)
                                   for i in range(args.writers)))
            written = time.perf_counter() - began
            await arrivals.wait(ARRIVAL_DEADLINE_S)
        finally:
            await connection.close()
            await pool.close()
    report(args, commits, arrivals, began, written)


def report(args: argparse.Namespace, commits: dict[str, float], arrivals: Arrivals,
           began: float, written: float) -> None:
    came = [i for i in commits if i in arrivals.times]
    latencies = [arrivals.times[i] - commits[i] for i in came]
    last = max((arrivals.times[i] for i in came), default=began)
    missing = len(commits) - len(came)
    dup = sum(n - 1 for n in arrivals.ids.values() if n > 1)
    strays = len(set(arrivals.ids) - set(commits))
    rate = len(came) / (last - began) if came else 0.0
    print(f"{len(commits)} state changes (job cancelled) from {args.writers} writers, "
          f"{args.per_commit} per commit, in {written:.1f} s "
          f"({len(commits) / written:.0f} changes/s); relay batch "
          f"{args.outbox_batch}; services' log level {args.log_level}")
    print(f"  events: {len(came)} arrived in {last - began:.1f} s from the first commit: "
          f"{rate:.0f} events/s")
    print(f"  change -> event: p50 {pct(latencies, 0.5) * 1e3:.1f} ms, "
          f"p95 {pct(latencies, 0.95) * 1e3:.1f} ms, p99 {pct(latencies, 0.99) * 1e3:.1f} ms, "
          f"max {max(latencies, default=0) * 1e3:.1f} ms (n {len(latencies)})")
    print(f"  exactly once: missing {missing}, duplicated {dup}, unknown ids {strays} -> "
          f"{'OK' if missing == dup == strays == 0 else 'FAIL'}")
    print(f"events: rate={rate:.0f} p50_ms={pct(latencies, 0.5) * 1e3:.1f} "
          f"p99_ms={pct(latencies, 0.99) * 1e3:.1f} missing={missing} dup={dup}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--per-commit", type=int, default=1,
                        help="state changes per transaction (a bulk change)")
    parser.add_argument("--outbox-batch", type=int, default=100, help="the relay's batch")
    parser.add_argument("--log-level", default="info", help="of the services")
    parser.add_argument("--services-root", type=Path, default=ROOT,
                        help="checkout to run the services from (to compare with another)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mp-bench-events-") as tmp:
        asyncio.run(bench(args, Path(tmp)))


if __name__ == "__main__":
    main()
