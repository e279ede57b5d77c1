"""Two of every service (backend, portal, session, solve) as their own processes on the same
servers; one replica of each is killed with -9 while jobs run.

What must hold: the exclusive duties of the killed backend (outbox relay, scheduler, job and
session reapers) are taken by the survivor; the API keeps answering through the surviving
portal; a session opened afterwards starts on the surviving session worker; every job
submitted before and after the kills succeeds, none is lost, none runs twice (a job cut on the
killed solve worker runs again only after its attempt was declared lost), and an outside
consumer receives every committed event (the outbox's ids), copies counted: the relay leader
killed between the broker's confirm and its stamp sends that batch again.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from common.settings import S3Settings
from tests.e2e.replicas import Infra, Replica, Replicas, running_replicas
from tests.e2e.runtime import E2ERuntime
from tests.support.events import ran_twice

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
DUTIES = ("outbox-relay", "scheduler", "reaper", "session-reaper")


def leads(replica: Replica) -> set[str]:
    """The duties ``replica`` has taken (from its ``duty_leading`` log lines)."""
    return {str(e.get("duty")) for e in replica.process.events if e.get("event") == "duty_leading"}


async def until_leads(replica: Replica, duties: tuple[str, ...], timeout_s: float = 60) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if set(duties) <= leads(replica):
                return
            await asyncio.sleep(0.2)


async def outbox_ids(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return {r["id"] for r in await conn.fetch("SELECT id::text AS id FROM outbox")}
    finally:
        await conn.close()


async def session_ready(p: Replicas, app: str, timeout_s: float = 120) -> dict[str, Any]:
    status, body = await p.call("POST", "/api/v1/sessions", json={"app": app})
    assert status == 201, body
    async with asyncio.timeout(timeout_s):
        while True:
            status, found = await p.call("GET", f"/api/v1/sessions/{body['id']}")
            assert status == 200, found
            if found["state"] not in ("requested", "starting"):
                return dict(found)
            await asyncio.sleep(0.3)


async def test_one_of_each_killed_moves_duties_and_loses_nothing(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path, runtime: E2ERuntime,
    docker_engine: str, label: str,
) -> None:
    infra = Infra(pg_dsn, amqp_url, s3_settings, docker_engine)
    async with running_replicas(infra, tmp_path, runtime=runtime, label=label,
                                lease_ttl_s=5.0, solve_slots=3, session_slots=10) as p:
        backends = p.of("backend")
        await until_leads(backends[0], DUTIES)  # the first one up takes them all
        assert leads(backends[1]) == set()
        case_id = await p.upload_case("sleeper", {"seconds": 4.0, "step_s": 0.2})
        before = [await p.submit("sleeper", "sleep", input_case_id=case_id) for _ in range(6)]
        await p.tap.wait_for(lambda e: e["type"] == "modelport.job.progress", timeout_s=120)

        doomed = [backends[0], *(p.of(kind)[0] for kind in ("portal", "solve", "session"))]
        for replica in doomed:
            await p.kill(replica)
        survivor = p.of("backend")[0]
        assert [r.name for r in p.of("portal")] == ["portal-1"]

        status, _ = await p.call("GET", "/api/v1/jobs")  # through the surviving portal
        assert status == 200
        after = [await p.submit("sleeper", "sleep", input_case_id=case_id) for _ in range(4)]
        await until_leads(survivor, DUTIES)
        session = await session_ready(p, "transport")
        worker_log = p.of("session")[0].process.log_tail(40)
        assert session["state"] == "ready", (session["reason"], session["message"], worker_log)

        jobs = await p.settled(before + after)
        outcomes = [(j["state"], j["reason"], j["attempt"], j["worker"]) for j in jobs]
        solve_logs = "\n".join(r.process.log_tail(15) for r in p.replicas if r.kind == "solve")
        assert [j["state"] for j in jobs] == ["succeeded"] * len(jobs), (outcomes, solve_logs)
        for job_id in before + after:  # each one's outcome reached the outside consumer
            await p.tap.wait_for(lambda e, i=job_id: e["subject"] == i
                                 and e["type"] == "modelport.job.succeeded", timeout_s=60)
        assert [i for i in before + after if ran_twice(p.tap.events, i)] == []
        # Every committed event reached the consumer. The relay is at-least-once: killed
        # between the broker's confirm and the stamp, its batch is sent again by the survivor
        # (consumers deduplicate by id), so copies are counted, not refused.
        async with asyncio.timeout(60):
            while True:
                if not await outbox_ids(pg_dsn) - {e["id"] for e in p.tap.events}:
                    break
                await asyncio.sleep(0.5)
        copies = Counter(e["id"] for e in p.tap.events)
        print("events:", len(copies), "copies sent twice:", sum(n > 1 for n in copies.values()))
        assert all(j["attempt"] == 1 for j in jobs if j["id"] in after), jobs
