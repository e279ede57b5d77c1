"""docs/operations.md's series table against the running services: every documented series is
on each service the table names, with its labels, and nothing undocumented is; counters and
histograms move when work is done."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest
from prometheus_client.metrics_core import Metric

from common.amqp.connection import connect
from common.amqp.rpc import RpcClient
from common.contracts.system import PING_ON, Ping, Pong
from common.errors import NotFound
from tests.metrics.conftest import HOST_SLOTS, Services
from tests.metrics.support import (
    SERVICES,
    DocumentedSeries,
    documented_series,
    label_names,
    sample_value,
    scrape,
)
from tests.portal.uploads import call, publish_transport

pytestmark = pytest.mark.timeout(180)
Families = dict[str, Metric]

PING = PING_ON["backend.rpc"].name


@pytest.fixture
async def rpc(amqp_url: str) -> AsyncIterator[RpcClient]:
    connection = await connect(amqp_url, deadline_s=10, name="metrics-test")
    client = RpcClient(connection, timeout_s=10)
    await client.start()
    yield client
    await client.stop()
    await connection.close()


async def scrape_until(services: Services, service: str, done: Callable[[Families], bool],
                       timeout_s: float = 20.0) -> Families:
    """Scrape ``service`` every 0.2 s until ``done`` holds (gauges read from PostgreSQL or
    the broker are cached for 2 s, worker reports come every 0.3 s)."""
    async with asyncio.timeout(timeout_s):
        while True:
            families = await scrape(services.metrics_url(service))
            if done(families):
                return families
            await asyncio.sleep(0.2)


def has_samples(expected: list[DocumentedSeries]) -> Callable[[Families], bool]:
    def done(families: Families) -> bool:
        return all(families.get(s.family) is not None and families[s.family].samples
                   for s in expected)
    return done


async def add_session_row(services: Services) -> None:
    """A data session of the published transport app, straight into backend's table (session
    launch is not wired end to end yet)."""
    conn = await asyncpg.connect(services.stack.pg_dsn)
    try:
        await conn.execute(
            "INSERT INTO sessions (user_id, app_version_id) SELECT u.id, v.id "
            "FROM users u, app_versions v WHERE u.username = 'admin' LIMIT 1")
    finally:
        await conn.close()


async def test_every_documented_series_is_on_its_services(
    services: Services, rpc: RpcClient,
) -> None:
    documented = documented_series()
    assert len(documented) >= 20, "the series table of docs/operations.md was not found"
    assert {s for d in documented for s in d.services} == set(SERVICES)
    await publish_transport(services.stack)  # portal requests and backend RPCs
    await add_session_row(services)
    for queue in ("session.rpc", "solve.rpc"):
        await rpc.call(queue, PING, Ping(), Pong)

    for service in SERVICES:
        expected = [s for s in documented if service in s.services]
        try:
            families = await scrape_until(services, service, has_samples(expected))
        except TimeoutError:
            families = await scrape(services.metrics_url(service))
            missing = [s.name for s in expected if not getattr(families.get(s.family),
                                                               "samples", None)]
            raise AssertionError(f"{service} lacks documented series: {missing}") from None
        for series in expected:
            metric = families[series.family]
            assert (metric.type, label_names(metric)) == (series.type, set(series.labels)), (
                f"{series.name} on {service} differs from docs/operations.md")
        served = {name.removesuffix("_created") for name in families
                  if name.startswith("modelport_")}  # text 0.0.4 shows _created apart
        extra = served - {s.family for s in expected}
        assert not extra, f"{service} serves series docs/operations.md does not list: {extra}"


async def test_portal_request_counts_under_its_route_template(services: Services) -> None:
    route = "/api/v1/jobs/{job_id}"
    job_id = str(uuid.uuid4())
    before = await scrape(services.metrics_url("portal"))
    backend_before = await scrape(services.metrics_url("backend"))

    status, _ = await call(services.stack, "GET", f"/api/v1/jobs/{job_id}")
    assert status == 404
    async with aiohttp.ClientSession() as http, http.get(
            services.stack.url("/no/such/page")) as resp:
        assert resp.status == 404

    after = await scrape(services.metrics_url("portal"))
    http = "modelport_http_request_duration_seconds"
    for labels in ({"method": "GET", "route": route, "status": "404"},
                   {"method": "GET", "route": "unmatched", "status": "404"}):
        assert (sample_value(after, http, "_count", **labels)
                == sample_value(before, http, "_count", **labels) + 1), labels
    routes = {s.labels.get("route", "") for s in after[http].samples}
    assert not any(job_id in r for r in routes), routes  # never the raw path

    client = "modelport_rpc_client_duration_seconds"
    call_labels = {"server": "backend.rpc", "method": "jobs.get", "outcome": "refused"}
    assert (sample_value(after, client, "_count", **call_labels)
            == sample_value(before, client, "_count", **call_labels) + 1)
    backend_after = await scrape(services.metrics_url("backend"))
    server = "modelport_rpc_server_duration_seconds"
    served = {"method": "jobs.get", "outcome": "refused"}
    assert (sample_value(backend_after, server, "_count", **served)
            == sample_value(backend_before, server, "_count", **served) + 1)


async def test_rpc_server_counts_by_method_and_outcome(services: Services,
                                                      rpc: RpcClient) -> None:
    before = await scrape(services.metrics_url("session"))
    await rpc.call("session.rpc", PING, Ping(), Pong)
    with pytest.raises(NotFound):
        await rpc.call("session.rpc", f"no.such.{uuid.uuid4().hex[:6]}", Ping(), Pong)

    after = await scrape(services.metrics_url("session"))
    name = "modelport_rpc_server_duration_seconds"
    for labels in ({"method": PING, "outcome": "ok"},
                   {"method": "unknown", "outcome": "refused"}):
        assert (sample_value(after, name, "_count", **labels)
                == sample_value(before, name, "_count", **labels) + 1), labels
    methods = {s.labels["method"] for s in after[name].samples}
    assert not any(m.startswith("no.such") for m in methods), methods


async def test_worker_reports_count_on_solve_and_host_load_shows(services: Services) -> None:
    name = "modelport_rpc_client_duration_seconds"
    labels = {"server": "backend.rpc", "method": "workers.report", "outcome": "ok"}
    first = sample_value(await scrape(services.metrics_url("solve")), name, "_count", **labels)
    later = await scrape_until(
        services, "solve", lambda f: sample_value(f, name, "_count", **labels) > first)
    assert sample_value(later, "modelport_docker_host_up", host="local") == 1
    assert sample_value(later, "modelport_docker_host_slots", host="local") == HOST_SLOTS
    assert sample_value(later, "modelport_docker_host_slots_free", host="local") == HOST_SLOTS
    assert sample_value(later, "modelport_docker_host_containers", host="local") == 0
    worker_queue = services.solve.worker_queue
    assert sample_value(later, "modelport_amqp_queue_consumers", queue=worker_queue) == 1
    assert sample_value(later, "modelport_amqp_queue_messages", queue=worker_queue) == 0


async def test_jobs_and_sessions_by_state(services: Services) -> None:
    await publish_transport(services.stack)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    status, job = await call(services.stack, "POST", "/api/v1/jobs",
                             json={"app": "transport", "procedure": "solve",
                                   "not_before": later})
    assert status == 202, job
    await add_session_row(services)

    def counted(f: Families) -> bool:
        return (sample_value(f, "modelport_jobs", state="queued") == 1
                and sample_value(f, "modelport_sessions", state="requested") == 1)

    families = await scrape_until(services, "backend", counted)
    jobs = {s.labels["state"]: s.value for s in families["modelport_jobs"].samples}
    assert jobs == {"queued": 1, "scheduled": 0, "running": 0, "succeeded": 0, "failed": 0,
                    "cancelled": 0, "lost": 0}
