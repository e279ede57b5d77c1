"""Infrastructure faults on instances the test starts (never the shared servers): RabbitMQ
restarted, PostgreSQL restarted and out for 10 s, S3 out.

In each: jobs run while the fault hits; a request during the fault fails at once with 503 and
a code and message naming what is down; the services reconnect by themselves; every job
accepted before or during the fault succeeds, on its first attempt (nothing lost, nothing run
twice), and an outside consumer bound to ``modelport.events`` sees each job's events exactly
once.

PostgreSQL is reached through a TCP proxy (tests/support/tcp_proxy.py) in front of a database
of the test's own: ``cut`` drops every connection and refuses new ones, as a server going down
does; a restart is a cut restored at once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from common.settings import S3Settings
from modelport.devstack.weed import WeedServer
from tests.e2e.platform import Platform, running_platform
from tests.e2e.runtime import E2ERuntime
from tests.support.events import EventTap
from tests.support.rabbit_instance import RabbitInstance
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]
SLEEP_CASE = {"seconds": 3.0, "step_s": 0.2}


def _via(dsn: str, port: int) -> str:
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{host[0]}{host[1]}127.0.0.1:{port}"))


@pytest.fixture
async def pg_proxy(pg_dsn: str) -> AsyncIterator[TcpProxy]:
    target = urlsplit(pg_dsn)
    async with TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        yield proxy


@pytest.fixture
def own_s3(tmp_path: Path) -> Iterator[WeedServer]:
    server = WeedServer(tmp_path / "own-weed", die_with_parent=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _submit(p: Platform, case_id: str, count: int) -> list[str]:
    return [str((await p.submit("sleeper", "sleep", input_case_id=case_id))["id"])
            for _ in range(count)]


async def _refused(p: Platform, method: str, path: str, code: str, message: str,
                   **kwargs: Any) -> None:
    """The request fails with 503 naming what is down."""
    status, body = await p.call(method, path, **kwargs)
    assert status == 503, (status, body)
    assert body["error"]["code"] == code, body
    assert body["error"]["message"].startswith(message), body


async def _all_succeed_once(p: Platform, tap: EventTap, ids: list[str]) -> None:
    """Every job succeeded on attempt 1; its events reached ``tap`` exactly once each."""
    jobs = await p.settled(ids, timeout_s=240)
    assert [(j["state"], j["attempt"]) for j in jobs] == [("succeeded", 1)] * len(ids), jobs
    for job_id in ids:
        await tap.wait_for(lambda e, i=job_id: e["subject"] == i
                           and e["type"] == "modelport.job.succeeded", timeout_s=60)
    mine = [e for e in tap.events if e["subject"] in set(ids)]
    copies = Counter(e["id"] for e in mine)
    assert [i for i, n in copies.items() if n > 1] == [], "an event arrived twice"
    kinds = Counter((e["subject"], e["type"]) for e in mine)
    for job_id in ids:
        for kind in ("queued", "started", "succeeded"):
            assert kinds[(job_id, f"modelport.job.{kind}")] == 1, (job_id, kind, kinds)
    assert p.containers() == []


async def _jobs_through(p: Platform, tap: EventTap, fault: Callable[[], Awaitable[None]],
                        *, during: Callable[[str], Awaitable[list[str]]] | None = None) -> None:
    """Start a worker, run jobs into ``fault``, then check that all of them succeed once."""
    await p.start_worker("solve-a", slots=2)
    case_id = await p.upload_case("sleeper", SLEEP_CASE)
    ids = await _submit(p, case_id, 4)
    await p.event(ids[0], "progress")
    await fault()
    if during is not None:
        ids += await during(case_id)
    ids += await _submit(p, case_id, 2)  # accepted after the fault
    await _all_succeed_once(p, tap, ids)


async def test_broker_restart(own_broker: RabbitInstance, pg_dsn: str, s3_settings: S3Settings,
                              tmp_path: Path, runtime: E2ERuntime, docker_engine: str,
                              label: str) -> None:
    async with running_platform(pg_dsn, own_broker.url, s3_settings, tmp_path, runtime=runtime,
                                docker_url=docker_engine, label=label) as p, \
            EventTap(own_broker.url, "modelport.job.#", durable=True) as tap:

        async def restart() -> None:
            await asyncio.to_thread(own_broker.stop)
            await _refused(p, "GET", "/api/v1/jobs", "broker_unavailable",
                           "message broker unavailable")
            await asyncio.to_thread(own_broker.start)
            await _until_answers(p)

        await _jobs_through(p, tap, restart)


@pytest.mark.parametrize("outage_s", [0.0, 10.0], ids=["restart", "outage-10s"])
async def test_database_fault(pg_proxy: TcpProxy, pg_dsn: str, amqp_url: str,
                              s3_settings: S3Settings, tmp_path: Path, runtime: E2ERuntime,
                              docker_engine: str, label: str, outage_s: float) -> None:
    async with running_platform(_via(pg_dsn, pg_proxy.port), amqp_url, s3_settings, tmp_path,
                                runtime=runtime, docker_url=docker_engine, label=label) as p:

        async def down() -> None:
            await pg_proxy.cut()
            await _refused(p, "GET", "/api/v1/jobs", "database_unavailable",
                           "database unavailable")
            await _refused(p, "POST", "/api/v1/jobs", "database_unavailable",
                           "database unavailable", json={"app": "sleeper", "procedure": "sleep"})
            await asyncio.sleep(outage_s)  # the outage itself; nothing is timed
            await pg_proxy.restore()
            await _until_answers(p)

        await _jobs_through(p, p.tap, down)


async def test_storage_outage(own_s3: WeedServer, pg_dsn: str, amqp_url: str, tmp_path: Path,
                              runtime: E2ERuntime, docker_engine: str, label: str) -> None:
    s3 = S3Settings(endpoint_url=own_s3.endpoint, bucket=f"mp-t-{uuid.uuid4().hex[:10]}")
    async with running_platform(pg_dsn, amqp_url, s3, tmp_path, runtime=runtime,
                                docker_url=docker_engine, label=label) as p:
        held: list[str] = []

        async def down() -> None:
            await asyncio.to_thread(own_s3.stop)
            await _refused(p, "POST", "/api/v1/cases", "storage_unavailable",
                           "object storage unavailable", params={"app": "sleeper", "name": "x"},
                           data=b"not stored", headers={"Content-Type": "application/octet-stream"})
            status, _ = await p.call("GET", "/api/v1/jobs")
            assert status == 200  # what needs no object storage still works

        async def during(case_id: str) -> list[str]:
            held.extend(await _submit(p, case_id, 2))  # accepted while S3 is down
            await asyncio.sleep(5)  # the outage goes on while they wait; nothing is timed
            await asyncio.to_thread(own_s3.start)
            return held

        await _jobs_through(p, p.tap, down, during=during)
        assert len(held) == 2


async def _until_answers(p: Platform, timeout_s: float = 60.0) -> None:
    """Wait until the API answers a read again (the services reconnected by themselves)."""
    async with asyncio.timeout(timeout_s):
        while True:
            if (await p.call("GET", "/api/v1/jobs"))[0] == 200:
                return
            await asyncio.sleep(0.2)
