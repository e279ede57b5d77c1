"""A killed session worker loses no session: two session_svc replicas (and two of every other
service) as their own processes on the real PostgreSQL, RabbitMQ, S3 and Docker.

Sessions of the real transport app are opened; the session worker holding the most of them
is killed with -9 (and stays dead, or is restarted at once under the same name, as a
supervisor would: the new process holds none of its predecessor's sessions and must not
remove the survivor's containers at its start). Its agents lose their control channel and
end, their containers stay on the host and nobody renews their leases. When a lease
expires, backend sees that the process that claimed the session has not reported for a
lease (dead, not merely slow) and restarts the session from its last autosave
(``worker_lost``) on a live worker, which removes the dead worker's container first.
Every session ends ready, with exactly one container (its current attempt's); the sessions
of the survivor are untouched; the user's page tells what happened; an outside consumer sees
requested, ready, lost (worker_lost), ready for a moved session, each event once.

A worker that is only slow (frozen with SIGSTOP for half a lease, then resumed) keeps its
sessions: same attempt, same worker, no event.
"""

from __future__ import annotations

import asyncio
import html
import re
import signal
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from common.docker.spec import SERVICE
from common.settings import S3Settings
from tests.e2e.replicas import Infra, Replica, Replicas, running_replicas
from tests.e2e.runtime import E2ERuntime
from tests.support.stack import ADMIN_PASSWORD, ADMIN_USER

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
LEASE_S = 6.0  # the sessions' lease; the workers report every 0.5 s
SESSIONS = 4


@pytest.fixture
async def platform(pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path,
                   runtime: E2ERuntime, docker_engine: str, label: str
                   ) -> AsyncIterator[Replicas]:
    infra = Infra(pg_dsn, amqp_url, s3_settings, docker_engine)
    async with running_replicas(infra, tmp_path, runtime=runtime, label=label,
                                session_slots=10, session_lease_ttl_s=LEASE_S) as p:
        yield p


async def open_sessions(p: Replicas, count: int) -> list[str]:
    """Open ``count`` transport sessions; their ids once every one is ready."""
    ids = []
    for _ in range(count):
        status, body = await p.call("POST", "/api/v1/sessions", json={"app": "transport"})
        assert status == 201, body
        ids.append(str(body["id"]))
    for sid in ids:
        await p.tap.wait_for(lambda e, i=sid: e["subject"] == i
                             and e["type"] == "modelport.session.ready", timeout_s=180)
    return ids


async def held(dsn: str, ids: list[str]) -> dict[str, tuple[str, str, int]]:
    """(state, worker, attempt) of each session, from the database."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT id::text AS id, state, worker, attempt FROM sessions "
                                "WHERE id = ANY($1::uuid[])", ids)
    finally:
        await conn.close()
    return {r["id"]: (r["state"], r["worker"], r["attempt"]) for r in rows}


def busiest(p: Replicas, holders: dict[str, tuple[str, str, int]]) -> Replica:
    """The session replica holding the most sessions."""
    counts = Counter(worker for _, worker, _ in holders.values())
    return max(p.of("session"), key=lambda r: counts[r.name])


def session_containers(p: Replicas) -> list[str]:
    """Names of the session containers (any state) of this test: ``docker ps -a``."""
    out = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}", "--filter",
                          f"label={SERVICE}={p.label}"], check=True, capture_output=True,
                         text=True)
    return sorted(n for n in out.stdout.split() if n.startswith("mp-session-"))


def story(p: Replicas, sid: str) -> list[tuple[str, int, str | None]]:
    """(state, attempt, reason) of each event the consumer saw of session ``sid``; each
    event id seen once."""
    seen = [e for e in p.tap.events if e["subject"] == sid]
    assert set(Counter(e["id"] for e in seen).values()) == {1}, seen
    return [(e["type"].rsplit(".", 1)[1], e["data"]["attempt"], e["data"]["reason"])
            for e in seen]


async def session_page(p: Replicas, sid: str) -> str:
    """The session's portal page as the admin sees it in a browser (signed in by the form)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(p.portal_url + "/login") as resp:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
        assert token is not None
        form = {"username": ADMIN_USER, "password": ADMIN_PASSWORD, "csrf_token": token[1]}
        async with http.post(p.portal_url + "/login", data=form) as resp:
            assert resp.status == 200, await resp.text()
        async with http.get(p.portal_url + f"/sessions/{sid}") as resp:
            assert resp.status == 200
            return html.unescape(await resp.text())


@pytest.mark.parametrize("after", ["stays-dead", "restarted"])
async def test_a_killed_session_workers_sessions_restart_on_the_survivor(
    platform: Replicas, pg_dsn: str, after: str,
) -> None:
    p = platform
    ids = await open_sessions(p, SESSIONS)
    before = await held(pg_dsn, ids)
    doomed = busiest(p, before)
    survivor = next(r for r in p.of("session") if r is not doomed)
    moved = [sid for sid, (_, worker, _) in before.items() if worker == doomed.name]
    stayed = [sid for sid in ids if sid not in moved]
    assert moved, before

    await p.kill(doomed)
    live = {survivor.name}
    if after == "restarted":  # at once, under the same name (a supervisor's restart)
        live.add((await p.restart(doomed)).name)
    for sid in moved:
        await p.tap.wait_for(lambda e, i=sid: e["subject"] == i
                             and e["type"] == "modelport.session.ready"
                             and e["data"]["attempt"] == 2, timeout_s=180)

    now = await held(pg_dsn, ids)
    assert all(now[sid][0] == "ready" and now[sid][1] in live and now[sid][2] == 2
               for sid in moved), now
    assert {sid: now[sid] for sid in stayed} == {sid: before[sid] for sid in stayed}
    expected = sorted(f"mp-session-{sid}-{now[sid][2]}" for sid in ids)
    assert session_containers(p) == expected, survivor.process.log_tail(30)
    for sid in moved:
        assert story(p, sid) == [("requested", 0, None), ("ready", 1, None),
                                 ("lost", 1, "worker_lost"), ("ready", 2, "worker_lost")]
    for sid in stayed:
        assert story(p, sid) == [("requested", 0, None), ("ready", 1, None)]
    status, shown = await p.call("GET", f"/api/v1/sessions/{moved[0]}")
    assert status == 200 and shown["reason"] == "worker_lost", shown
    assert shown["message"].startswith("Restarted after its session worker failed")
    page = await session_page(p, moved[0])
    assert re.search(r'id="session-restarted"[^>]*>\s*' + re.escape(shown["message"]), page)


async def test_a_slow_session_worker_keeps_its_sessions(platform: Replicas, pg_dsn: str) -> None:
    p = platform
    ids = await open_sessions(p, 2)
    before = await held(pg_dsn, ids)
    slow = busiest(p, before)
    loop = asyncio.get_running_loop()
    slow.process.signal(signal.SIGSTOP)  # no report for half a lease: 6 missed heartbeats
    try:
        await asyncio.sleep(LEASE_S / 2)
    finally:
        slow.process.signal(signal.SIGCONT)
    watch_until = loop.time() + LEASE_S * 1.5  # past the lease it held when frozen
    while loop.time() < watch_until:
        assert await held(pg_dsn, ids) == before
        await asyncio.sleep(0.5)
    for sid in ids:
        assert story(p, sid) == [("requested", 0, None), ("ready", 1, None)]
    assert session_containers(p) == sorted(f"mp-session-{sid}-1" for sid in ids)
