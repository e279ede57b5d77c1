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
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path

import aio_pika
import asyncpg
from aio_pika.abc import AbstractIncomingMessage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend_svc import audit, db  # noqa: E402
from backend_svc.outbox import record_event, record_events  # noqa: E402
from bench.api import CpuMeter  # noqa: E402
from bench.spawned import ROOT, spawned_platform  # noqa: E402
from common.amqp import topology  # noqa: E402
from common.contracts.base import Principal  # noqa: E402
from common.contracts.events import CloudEvent  # noqa: E402
from common.contracts.jobs import JobEvent  # noqa: E402
from tests.support.deep_queue import seed_queue  # noqa: E402

ARRIVAL_DEADLINE_S = 120.0  # after the last commit
SETTLE_S = 0.5  # after the last arrival, for a late duplicate to show


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


def consume(amqp_url: str, expected: int, pipe: Connection) -> None:
    """The bench's consumer, in a process of its own so that the writers' CPU does not delay
    the arrival times it takes (``time.perf_counter`` is the machine's monotonic clock)."""
    asyncio.run(_consume(amqp_url, expected, pipe))


async def _consume(amqp_url: str, expected: int, pipe: Connection) -> None:
    arrivals = Arrivals(expected)
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(topology.EVENTS, routing_key="modelport.job.#")
        await queue.consume(arrivals.on_message, no_ack=True)
        pipe.send("ready")
        await asyncio.to_thread(pipe.poll, None)  # the writers are done
        pipe.recv()
        await arrivals.wait(ARRIVAL_DEADLINE_S)
        await asyncio.sleep(SETTLE_S)
    finally:
        await connection.close()
    pipe.send((arrivals.times, dict(arrivals.ids)))


class Consumer:
    """:func:`consume` in a child process: ``ready()``, then ``results()`` after the writes."""

    def __init__(self, amqp_url: str, expected: int):
        self._pipe, child = multiprocessing.get_context("spawn").Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=consume, args=(amqp_url, expected, child), daemon=True)

    async def ready(self) -> None:
        self._process.start()
        if not await asyncio.to_thread(self._pipe.poll, 60) or self._pipe.recv() != "ready":
            raise RuntimeError("the consumer did not start")

    async def results(self) -> Arrivals:
        self._pipe.send("written")
        if not await asyncio.to_thread(self._pipe.poll, ARRIVAL_DEADLINE_S + 30):
            raise RuntimeError("the consumer did not report")
        times, ids = self._pipe.recv()
        self._process.join(10)
        arrivals = Arrivals(len(times))
        arrivals.times, arrivals.ids = times, Counter(ids)
        return arrivals


def job_event(job: asyncpg.Record) -> dict[str, object]:
    return JobEvent(job_id=str(job["id"]), user=job["username"], app="bench", attempt=0,
                    state="cancelled", reason="cancelled",
                    interrupted=False).model_dump(mode="json")


async def cancel(pool: asyncpg.Pool, jobs: list[asyncpg.Record]) -> list[tuple[str, float]]:
    """Cancel one queued job in its transaction, with its audit row and event, statement by
    statement as backend's handler does; (event id, commit time)."""
    (job,) = jobs
    data = job_event(job)
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute(CANCEL, [job["id"]])
            await audit.record(conn, Principal.SYSTEM, "job.cancel", str(job["id"]), data)
            event = await record_event(conn, JobEvent.CANCELLED, data, subject=str(job["id"]))
        committed = time.perf_counter()
    return [(event.id, committed)]


async def cancel_bulk(pool: asyncpg.Pool, jobs: list[asyncpg.Record]) -> list[tuple[str, float]]:
    """Cancel queued jobs in one transaction as a bulk change: one UPDATE, the audit rows in
    one statement, the events in one (:func:`record_events`); (event id, commit time) each."""
    data = [job_event(job) for job in jobs]
    events = [CloudEvent(type=JobEvent.CANCELLED, subject=str(job["id"]), data=d)
              for job, d in zip(jobs, data, strict=True)]
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute(CANCEL, [job["id"] for job in jobs])
            await audit.record_many(conn, Principal.SYSTEM, "job.cancel", [
                (str(job["id"]), d) for job, d in zip(jobs, data, strict=True)])
            await record_events(conn, events)
        committed = time.perf_counter()
    return [(event.id, committed) for event in events]


CANCEL = ("UPDATE jobs SET state = 'cancelled', reason = 'cancelled', finished_at = now(), "
          "updated_at = now() WHERE id = ANY($1::uuid[])")


async def writer(pool: asyncpg.Pool, jobs: list[asyncpg.Record], per_commit: int,
                 commits: dict[str, float], interval_s: float = 0.0) -> None:
    """Commit ``jobs`` ``per_commit`` at a time; with ``interval_s``, one commit per interval
    on a fixed schedule (a late commit does not shift the ones after it)."""
    write = cancel if per_commit == 1 else cancel_bulk
    began = time.perf_counter()
    for n, start in enumerate(range(0, len(jobs), per_commit)):
        if interval_s:
            await asyncio.sleep(max(0.0, began + n * interval_s - time.perf_counter()))
        commits.update(await write(pool, jobs[start:start + per_commit]))


async def bench(args: argparse.Namespace, tmp: Path) -> None:
    backend = {"outbox_batch": str(args.outbox_batch)}
    async with spawned_platform(tmp, log_level=args.log_level, root=args.services_root,
                                backend=backend) as platform:
        pool = await db.create_pool(platform.pg_dsn, max_size=args.writers, deadline_s=10)
        meter = await asyncpg.connect(platform.pg_dsn)  # reads the services' CPU time
        try:
            async with pool.acquire() as conn:
                await seed_queue(conn, jobs=args.changes, users=10)
                jobs = await conn.fetch("SELECT j.id, u.username FROM jobs j "
                                        "JOIN users u ON u.id = j.user_id")
            consumer = Consumer(platform.amqp_url, len(jobs))
            await consumer.ready()
            commits: dict[str, float] = {}
            cpu = CpuMeter(platform, meter)
            spies = cpu.profile(args.profile, "events", 30) if args.profile else []
            before = await cpu.read()
            began = time.perf_counter()
            interval_s = args.per_commit * args.writers / args.rate if args.rate else 0.0
            await asyncio.gather(*(writer(pool, jobs[i::args.writers], args.per_commit, commits,
                                          interval_s) for i in range(args.writers)))
            written = time.perf_counter() - began
            arrivals = await consumer.results()
            after = await cpu.read()
            for spy in spies:
                await spy
        finally:
            await meter.close()
            await pool.close()
    cpu_ms = {who: (after[who] - before.get(who, 0.0)) * 1e3 / max(1, len(commits))
              for who in after}
    report(args, commits, arrivals, began, written, cpu_ms)


def report(args: argparse.Namespace, commits: dict[str, float], arrivals: Arrivals,
           began: float, written: float, cpu_ms: dict[str, float]) -> None:
    came = [i for i in commits if i in arrivals.times]
    latencies = [arrivals.times[i] - commits[i] for i in came]
    last = max((arrivals.times[i] for i in came), default=began)
    missing = len(commits) - len(came)
    dup = sum(n - 1 for n in arrivals.ids.values() if n > 1)
    strays = len(set(arrivals.ids) - set(commits))
    rate = len(came) / (last - began) if came else 0.0
    print(f"{len(commits)} state changes (job cancelled) from {args.writers} writers, "
          f"{args.per_commit} per commit{f', paced at {args.rate:g}/s' if args.rate else ''}, "
          f"in {written:.1f} s "
          f"({len(commits) / written:.0f} changes/s); relay batch "
          f"{args.outbox_batch}; services' log level {args.log_level}")
    print(f"  events: {len(came)} arrived in {last - began:.1f} s from the first commit: "
          f"{rate:.0f} events/s")
    print(f"  change -> event: p50 {pct(latencies, 0.5) * 1e3:.1f} ms, "
          f"p95 {pct(latencies, 0.95) * 1e3:.1f} ms, p99 {pct(latencies, 0.99) * 1e3:.1f} ms, "
          f"max {max(latencies, default=0) * 1e3:.1f} ms (n {len(latencies)})")
    print(f"  exactly once: missing {missing}, duplicated {dup}, unknown ids {strays} -> "
          f"{'OK' if missing == dup == strays == 0 else 'FAIL'}")
    print("  CPU ms per event: " + ", ".join(f"{who} {ms:.3f}" for who, ms in cpu_ms.items()))
    print(f"events: rate={rate:.0f} p50_ms={pct(latencies, 0.5) * 1e3:.1f} "
          f"p99_ms={pct(latencies, 0.99) * 1e3:.1f} missing={missing} dup={dup}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--per-commit", type=int, default=1,
                        help="state changes per transaction (a bulk change)")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="changes per second offered in all (0: as fast as the writers go)")
    parser.add_argument("--outbox-batch", type=int, default=100, help="the relay's batch")
    parser.add_argument("--log-level", default="info", help="of the services")
    parser.add_argument("--profile", type=Path, help="py-spy the services for 30 s into this "
                        "folder (summarise with bench/pyspy_top.py)")
    parser.add_argument("--services-root", type=Path, default=ROOT,
                        help="checkout to run the services from (to compare with another)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mp-bench-events-") as tmp:
        asyncio.run(bench(args, Path(tmp)))


if __name__ == "__main__":
    main()
