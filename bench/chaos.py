"""Chaos run: jobs and sessions keep coming while replicas die and infrastructure restarts.

Starts everything of its own: a PostgreSQL (initdb, tests/support/pg_instance.py), a RabbitMQ
node (tests/support/rabbit_instance.py), an S3 server (weed), a second Docker engine as a
second host for the solve and session workers (tests/ha/engine.py; the shared engine is the
first), and
two replicas of every service as processes (tests/e2e/replicas.py). Then, over
``--duration-s``:

- submits ``--jobs`` sleeper jobs (1 s each) spread over the first 70 % of the run, each with
  an ``Idempotency-Key``, retried on 5xx or a dead portal through another live portal;
- opens ``--sessions`` sessions of ``transport`` spread the same way (the session workers
  place them on both hosts), keeps each open until the end of ``--duration-s`` (through the
  faults) and then stops it; a session counts by its state then (``restarted_ready``: ready
  after a restart from its autosave, split by why: ``host_down_ready`` its host failed,
  ``worker_lost_ready`` its session worker died);
- at times drawn from ``--seed``, one fault at a time: kill -9 a random replica (restarted
  under the same name 5 s later), take the second Docker host down (by turns shut down,
  SIGTERM: it stops its containers, then its socket goes; and killed, SIGKILL to its dockerd
  and containerd, socket gone; started again 15 s later),
  restart the broker, restart the database.

It then waits for every job to end and prints: submitted, succeeded, failed by reason, lost
(not ended, or ended ``lost``), run twice (an attempt started while an earlier one was not
declared lost, or two outcomes), events missing or duplicated at an outside consumer bound to
``modelport.events`` (compared with the outbox table, after dedup by id), and for each fault
the recovery time: from the fault (for a restart, from when the server is back) until the API
answers through a portal and a new event reaches the consumer.

    .venv/bin/python bench/chaos.py [--jobs 500] [--sessions 20] [--seed 1] [--duration-s 600]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.contracts.sessions import RESTART_REASONS  # noqa: E402
from common.logging import configure_logging  # noqa: E402
from common.settings import S3Settings  # noqa: E402
from modelport.devstack.weed import WeedServer  # noqa: E402
from tests.e2e.replicas import Infra, Replicas, running_replicas  # noqa: E402
from tests.e2e.runtime import e2e_runtime  # noqa: E402
from tests.ha.engine import SecondEngine  # noqa: E402
from tests.support import engines  # noqa: E402
from tests.support.events import ran_twice  # noqa: E402
from tests.support.pg_instance import PgInstance  # noqa: E402
from tests.support.rabbit_instance import RabbitInstance  # noqa: E402

FAULTS = ("kill_replica", "stop_host", "restart_broker", "restart_db")
RETRY_FOR_S = 90.0  # how long a client keeps retrying one submission
RECOVERY_CAP_S = 120.0
TERMINAL = {"succeeded", "failed", "cancelled"}


@dataclass
class Tally:
    jobs: list[str] = field(default_factory=list)
    not_accepted: int = 0
    refusals: Counter[str] = field(default_factory=Counter)  # "status code" of each
    sessions: Counter[str] = field(default_factory=Counter)
    session_reasons: Counter[str] = field(default_factory=Counter)
    bad_sessions: list[str] = field(default_factory=list)  # ended failed or lost
    faults: list[tuple[float, str, str, float]] = field(default_factory=list)


def schedule(seed: int, duration_s: float) -> list[tuple[float, str]]:
    """(seconds from start, fault): every kind at least once, one every ~25 s, none in the
    first 10 % or the last 15 % of the run."""
    rng = random.Random(seed)
    count = max(len(FAULTS), int(duration_s // 25))
    kinds = rng.sample(FAULTS, len(FAULTS)) + [rng.choice(FAULTS) for _ in range(count - 4)]
    slot = duration_s * 0.75 / count
    return [(duration_s * 0.1 + i * slot + rng.uniform(0, slot * 0.3), kind)
            for i, kind in enumerate(kinds)]


async def request(p: Replicas, method: str, path: str, *, idem: str | None = None,
                  **kwargs: Any) -> tuple[int, Any]:
    """A call through any live portal, retried on 5xx and dead portals up to RETRY_FOR_S."""
    headers = {"Idempotency-Key": idem} if idem else {}
    give_up = time.monotonic() + RETRY_FOR_S
    status, body = 0, None
    while time.monotonic() < give_up:
        try:
            status, body = await p.call(method, path, headers=headers, timeout_s=20, **kwargs)
            if status < 500:
                return status, body
        except (aiohttp.ClientError, TimeoutError, IndexError):
            pass  # that portal died (IndexError: none alive this instant); try again
        await asyncio.sleep(0.5)
    return status, body


async def submit_jobs(p: Replicas, tally: Tally, case_id: str, count: int, span_s: float) -> None:
    for _ in range(count):
        status, body = await request(p, "POST", "/api/v1/jobs", idem=uuid.uuid4().hex, json={
            "app": "sleeper", "procedure": "sleep", "input_case_id": case_id})
        if status == 202:
            tally.jobs.append(str(body["id"]))
        else:
            tally.not_accepted += 1
            code = body.get("code") if isinstance(body, dict) else None
            tally.refusals[f"{status} {code}"] += 1
        await asyncio.sleep(span_s / count)


async def one_session(p: Replicas, tally: Tally, hold_until: float) -> None:
    """Open a session, wait until it is ready, keep it open until ``hold_until`` (through
    the faults: a host failure restarts it elsewhere), then count its state and stop it."""
    status, body = await request(p, "POST", "/api/v1/sessions", json={"app": "transport"})
    if status != 201:
        tally.sessions[f"not_opened_{status}"] += 1
        return
    path = f"/api/v1/sessions/{body['id']}"
    found: dict[str, Any] = dict(body)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(180.0, hold_until - time.monotonic() + 60)):
            while found["state"] in ("requested", "starting") or (
                    found["state"] == "ready" and time.monotonic() < hold_until):
                await asyncio.sleep(1)
                status, answer = await request(p, "GET", path)
                found = dict(answer) if status == 200 else found
    tally.sessions[found["state"]] += 1
    if found["state"] in ("failed", "lost"):
        tally.session_reasons[f"{found['state']}: {found.get('reason')}"] += 1
        tally.bad_sessions.append(str(body["id"]))
    if found.get("reason") in RESTART_REASONS:  # its host failed or its worker died
        tally.sessions[f"restarted_{found['state']}"] += 1
        tally.sessions[f"{found['reason']}_{found['state']}"] += 1
    if found["state"] in ("requested", "starting", "ready"):
        await request(p, "DELETE", path)


async def open_sessions(p: Replicas, tally: Tally, count: int, span_s: float,
                        hold_until: float) -> None:
    tasks = []
    for _ in range(count):
        tasks.append(asyncio.create_task(one_session(p, tally, hold_until)))
        await asyncio.sleep(span_s / max(count, 1))
    await asyncio.gather(*tasks)


async def recovered(p: Replicas, since: float) -> float:
    """Seconds from ``since`` until the API answers and a change made after that (a probe
    case uploaded) reaches the outside consumer as an event (capped). Waiting for any event
    instead measured the workload's quiet spells once the submissions had ended."""
    api_ok = False
    probe: str | None = None
    while time.monotonic() - since < RECOVERY_CAP_S:
        # AssertionError: the upload was refused (a 5xx while the fault lasts)
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, IndexError, AssertionError):
            if not api_ok:
                api_ok = (await p.call("GET", "/api/v1/jobs", timeout_s=5))[0] == 200
            if api_ok and probe is None:
                probe = await p.upload_case("sleeper", {"seconds": 0.1})
        if probe is not None and any(e["subject"] == probe for e in p.tap.events[-200:]):
            break
        await asyncio.sleep(0.2)
    return time.monotonic() - since


async def inflict(kind: str, p: Replicas, rng: random.Random, broker: RabbitInstance,
                  pg: PgInstance, engine: SecondEngine, host_faults: int) -> tuple[str, float]:
    """Cause one fault; return (what was hit, its recovery time). ``host_faults``: how many
    stop_host faults came before (they alternate between a shut-down and a killed engine)."""
    if kind == "kill_replica":
        victim = rng.choice([r for r in p.replicas if r.alive and len(p.of(r.kind)) > 1])
        began = time.monotonic()
        await p.kill(victim)
        took = await recovered(p, began)
        await asyncio.sleep(max(0.0, 5 - took))
        await p.restart(victim)
        return victim.name, took
    if kind == "stop_host":  # shut down (SIGTERM) first, then killed, by turns
        how = "killed" if host_faults % 2 else "shut-down"
        began = time.monotonic()
        await asyncio.to_thread(engine.fail if how == "killed" else engine.stop)
        took = await recovered(p, began)
        await asyncio.sleep(max(0.0, 15 - took))
        await asyncio.to_thread(engine.start)
        return f"host-b:{how}", took
    server = broker if kind == "restart_broker" else pg
    await asyncio.to_thread(server.stop)
    await asyncio.to_thread(server.start)
    return ("rabbitmq" if server is broker else "postgresql"), await recovered(p, time.monotonic())


async def chaos(p: Replicas, tally: Tally, plan: list[tuple[float, str]], seed: int,
                started: float, servers: tuple[RabbitInstance, PgInstance, SecondEngine]) -> None:
    rng = random.Random(seed + 1)
    for at, kind in plan:
        await asyncio.sleep(max(0.0, started + at - time.monotonic()))
        host_faults = sum(f[1] == "stop_host" for f in tally.faults)
        target, took = await inflict(kind, p, rng, *servers, host_faults=host_faults)
        tally.faults.append((time.monotonic() - started, kind, target, took))
        print(f"fault at {at:6.1f}s: {kind:<15} {target:<12} recovery_s={took:.1f}", flush=True)


async def outbox_ids(dsn: str) -> tuple[set[str], int]:
    """Every event id in the outbox, and how many are not published yet."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT id::text AS id, published_at FROM outbox")
    finally:
        await conn.close()
    return {r["id"] for r in rows}, sum(r["published_at"] is None for r in rows)


async def settle(p: Replicas, tally: Tally, timeout_s: float) -> list[dict[str, Any]]:
    """Every job's final record (or its last one when it did not end in ``timeout_s``)."""
    give_up = time.monotonic() + timeout_s
    jobs: dict[str, dict[str, Any]] = {}
    while True:
        for job_id in [i for i in tally.jobs if jobs.get(i, {}).get("state") not in TERMINAL]:
            status, body = await request(p, "GET", f"/api/v1/jobs/{job_id}")
            if status == 200:
                jobs[job_id] = dict(body)
        pending = [i for i in tally.jobs if jobs.get(i, {}).get("state") not in TERMINAL]
        if not pending or time.monotonic() > give_up:
            return [jobs.get(i, {"id": i, "state": "unknown"}) for i in tally.jobs]
        await asyncio.sleep(2)


async def events_settled(p: Replicas, dsn: str, timeout_s: float = 60) -> set[str]:
    """The outbox's ids once all are published and the consumer has been quiet for 3 s."""
    give_up = time.monotonic() + timeout_s
    while True:
        ids, unpublished = await outbox_ids(dsn)
        count = len(p.tap.events)
        await asyncio.sleep(3)
        if (unpublished == 0 and len(p.tap.events) == count) or time.monotonic() > give_up:
            return ids


def report(tally: Tally, jobs: list[dict[str, Any]], p: Replicas, outbox: set[str]) -> None:
    states = Counter(j["state"] for j in jobs)
    failed = Counter(j.get("reason") or "none" for j in jobs if j["state"] == "failed")
    lost = sum(j["state"] not in TERMINAL for j in jobs)
    twice = sum(ran_twice(p.tap.events, j) for j in tally.jobs)
    received = Counter(e["id"] for e in p.tap.events)
    missing = len(outbox - set(received))
    duplicated = sum(n - 1 for n in received.values())
    attempts = Counter(j.get("attempt", 0) for j in jobs)
    worst = max((f[3] for f in tally.faults), default=0.0)
    print(f"jobs: submitted={len(tally.jobs)} not_accepted={tally.not_accepted} "
          f"states={dict(states)} attempts={dict(sorted(attempts.items()))}")
    print(f"not accepted by status: {dict(tally.refusals)}")
    print(f"failed by reason: {dict(failed)}")
    print(f"sessions: {dict(tally.sessions)} not ready by reason: {dict(tally.session_reasons)}")
    print(f"events: outbox={len(outbox)} received={sum(received.values())} "
          f"unique={len(received)} missing={missing} duplicated={duplicated}")
    repeats = Counter(e["type"] for e in {e["id"]: e for e in p.tap.events}.values()
                      if received[e["id"]] > 1)
    print(f"duplicated by type: {dict(repeats)}")
    for job_id in [j for j in tally.jobs if ran_twice(p.tap.events, j)][:3]:
        steps = [(e["type"].rsplit(".", 1)[1], e["data"].get("attempt")) for e in p.tap.events
                 if e["subject"] == job_id and not e["type"].endswith("progress")]
        print(f"ran twice: {job_id} {steps}")
    for line in session_warnings(p, tally.bad_sessions):
        print(line)
    for at, kind, target, took in tally.faults:
        print(f"recovery: {kind} {target} at {at:.0f}s -> {took:.1f}s")
    print(f"chaos: submitted={len(tally.jobs)} succeeded={states['succeeded']} lost={lost} "
          f"twice={twice} events_missing={missing} events_duplicated={duplicated} "
          f"max_recovery_s={worst:.1f}")


def session_warnings(p: Replicas, session_ids: list[str]) -> list[str]:
    """What every session worker process (the killed ones too) logged at warning level or
    worse about the sessions that did not end ready (their story, for the report)."""
    return [f"session {e['session_id'][:8]} {r.name}: {e['event']} "
            f"{e.get('error') or e.get('host') or ''}"[:200]
            for r in [*p.retired, *p.replicas] if r.kind == "session" for e in r.process.events
            if e.get("session_id") in session_ids and e.get("level") in ("warning", "error")]


async def run(args: argparse.Namespace) -> None:
    docker_url = engines.docker_url()
    runtime = await asyncio.to_thread(e2e_runtime)
    base = Path(tempfile.mkdtemp(prefix="mp-chaos-"))
    await asyncio.to_thread(base.chmod, 0o755)  # broker and database run as other users
    broker, pg, engine = RabbitInstance(base / "rabbit"), PgInstance(base / "pg"), SecondEngine()
    weed = WeedServer(base / "weed", die_with_parent=True)
    for start in (broker.start, pg.start, weed.start, engine.start):
        await asyncio.to_thread(start)
    label = f"mp-chaos-{uuid.uuid4().hex[:6]}"
    infra = Infra(pg.dsn, broker.url, S3Settings(endpoint_url=weed.endpoint,
                                                 bucket=f"mp-chaos-{uuid.uuid4().hex[:6]}"),
                  docker_url)
    tally = Tally()
    try:
        async with running_replicas(
                infra, base / "platform", runtime=runtime, label=label, lease_ttl_s=15.0,
                solve_slots=5, session_slots=10,
                solve_hosts=[host_b(engine, slots=3)],
                session_hosts=[host_b(engine, slots=10)],
        ) as p:
            case_id = await p.upload_case("sleeper", {"seconds": 1.0, "step_s": 0.2})
            plan = schedule(args.seed, args.duration_s)
            started = time.monotonic()
            span = args.duration_s * 0.7
            await asyncio.gather(
                submit_jobs(p, tally, case_id, args.jobs, span),
                open_sessions(p, tally, args.sessions, span,
                              hold_until=started + args.duration_s),
                chaos(p, tally, plan, args.seed, started, (broker, pg, engine)))
            jobs = await settle(p, tally, timeout_s=300)
            report(tally, jobs, p, await events_settled(p, pg.dsn))
    finally:
        for stop in (engine.remove, weed.stop, broker.stop, pg.stop):
            with contextlib.suppress(Exception):
                await asyncio.to_thread(stop)
        shutil.rmtree(base, ignore_errors=True)


def host_b(engine: SecondEngine, slots: int) -> dict[str, Any]:
    """The second Docker host as a worker's HostConfig fields."""
    return {"name": "host-b", "url": engine.url, "slots": slots, "zone": "b",
            "memory_mb": 65536}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duration-s", type=float, default=600.0)
    args = parser.parse_args()
    configure_logging("console", "warning")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
