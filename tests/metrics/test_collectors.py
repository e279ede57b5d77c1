"""The parts behind ``/metrics`` one at a time, on real servers: backend's gauges against
PostgreSQL, queue depths against RabbitMQ, warm-pool counts against Docker, the refresh cache
and a failing refresher, and the portal's metrics token."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import aiohttp
import asyncpg
import pytest
from aio_pika.abc import AbstractIncomingMessage
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from backend_svc import db
from backend_svc.metrics import BackendGauges
from backend_svc.migrations import apply_migrations, load_migrations
from backend_svc.settings import BackendSettings
from common.amqp.connection import connect
from common.docker import DockerHost, Limits, WarmPool, remove
from common.docker.metrics import WarmMetrics
from common.metrics import REFRESH_TIMEOUT_S, QueueDepths, ServiceMetrics
from common.settings import S3Settings
from portal_svc.settings import PortalSettings
from session_svc.settings import SessionSettings
from solve_svc.settings import SolveSettings
from tests.docker.conftest import _final_sweep, host, service  # noqa: F401
from tests.metrics.support import sample_value, scrape
from tests.support import infra
from tests.support.stack import running_stack
from tests.support.tcp_proxy import TcpProxy

REPO = Path(__file__).resolve().parents[2]


async def read(metrics: ServiceMetrics) -> dict[str, Metric]:
    """What a scrape of ``metrics`` shows, by family."""
    body, _ = await metrics.render()
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


# --- backend: jobs, sessions, outbox lag ----------------------------------------------------


@pytest.fixture
async def pool(pg_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    created = await db.create_pool(pg_dsn, max_size=2, deadline_s=10)
    async with created.acquire() as conn:
        await apply_migrations(conn, load_migrations())
    try:
        yield created
    finally:
        await created.close()


async def test_outbox_lag_counts_unpublished_rows_and_ages_the_oldest(
    pool: asyncpg.Pool,
) -> None:
    metrics = ServiceMetrics("backend", cache_s=0)
    BackendGauges(metrics, pool)
    found = await read(metrics)
    assert sample_value(found, "modelport_outbox_pending_events") == 0
    assert sample_value(found, "modelport_outbox_oldest_pending_age_seconds") == 0

    await pool.execute(
        "INSERT INTO outbox (id, type, source, time, data) VALUES "
        "(gen_random_uuid(), 't.old', 's', now() - interval '30 seconds', '{}'::jsonb), "
        "(gen_random_uuid(), 't.new', 's', now(), '{}'::jsonb), "
        "(gen_random_uuid(), 't.sent', 's', now() - interval '1 hour', '{}'::jsonb)")
    await pool.execute("UPDATE outbox SET published_at = now() WHERE type = 't.sent'")
    found = await read(metrics)
    assert sample_value(found, "modelport_outbox_pending_events") == 2
    assert 30 <= sample_value(found, "modelport_outbox_oldest_pending_age_seconds") < 60

    await pool.execute("UPDATE outbox SET published_at = now()")
    found = await read(metrics)
    assert sample_value(found, "modelport_outbox_pending_events") == 0
    assert sample_value(found, "modelport_outbox_oldest_pending_age_seconds") == 0


async def add_jobs(pool: asyncpg.Pool, *states: str) -> None:
    """Jobs in ``states`` (with the user and app version they need, made once)."""
    sha = "ab" * 32
    version_id = await pool.fetchval("SELECT id FROM app_versions LIMIT 1")
    if version_id is None:
        await pool.execute("INSERT INTO users (username, password_hash) VALUES ('u', 'x')")
        await pool.execute("INSERT INTO runtimes (version, manifest, s3_key, sha256, "
                           "size_bytes, signer_key_id) VALUES ('1.0.0', '{}', 'r', $1, 1, 'k')",
                           sha)
        app_id = await pool.fetchval("INSERT INTO apps (name) VALUES ('a') RETURNING id")
        version_id = await pool.fetchval(
            "INSERT INTO app_versions (app_id, version, runtime_requirement, manifest, s3_key, "
            "sha256, size_bytes) VALUES ($1, '1.0.0', '>=1.0', '{}', 'a', $2, 1) RETURNING id",
            app_id, sha)
    await pool.executemany(
        "INSERT INTO jobs (user_id, app_version_id, procedure, state) "
        "SELECT id, $1, 'solve', $2 FROM users LIMIT 1", [(version_id, s) for s in states])


def job_counts(found: dict[str, Metric]) -> dict[str, float]:
    return {s.labels["state"]: s.value for s in found["modelport_jobs"].samples}


async def test_live_job_states_are_recounted_every_time_finished_ones_once_a_while(
    pool: asyncpg.Pool,
) -> None:
    metrics = ServiceMetrics("backend", cache_s=0)
    BackendGauges(metrics, pool, full_every_s=3600)
    await add_jobs(pool, "queued", "running", "succeeded", "lost")
    zero = dict.fromkeys(["scheduled", "failed", "cancelled"], 0.0)
    first = {"queued": 1.0, "running": 1.0, "succeeded": 1.0, "lost": 1.0}
    assert job_counts(await read(metrics)) == {**zero, **first}

    await add_jobs(pool, "queued", "succeeded", "failed")
    await pool.execute("UPDATE jobs SET state = 'scheduled' WHERE state = 'running'")
    assert job_counts(await read(metrics)) == {
        **zero, **first, "queued": 2, "running": 0, "scheduled": 1}  # finished: as before

    fresh = ServiceMetrics("backend", cache_s=0)
    BackendGauges(fresh, pool, full_every_s=0)
    assert job_counts(await read(fresh)) == {
        "queued": 2, "scheduled": 1, "running": 0, "succeeded": 2, "failed": 1,
        "cancelled": 0, "lost": 1}


async def test_a_failing_refresher_keeps_the_last_values_and_the_scrape_answers(
    pool: asyncpg.Pool, pg_dsn: str,
) -> None:
    metrics = ServiceMetrics("backend", cache_s=0)
    BackendGauges(metrics, pool)
    await pool.execute(
        "INSERT INTO outbox (id, type, source, data) VALUES (gen_random_uuid(), 't', 's', "
        "'{}'::jsonb)")
    assert sample_value(await read(metrics), "modelport_outbox_pending_events") == 1
    await pool.execute("ALTER TABLE outbox RENAME TO outbox_gone")  # every query now fails
    found = await read(metrics)
    assert sample_value(found, "modelport_outbox_pending_events") == 1
    assert "process_cpu_seconds" in found


async def test_refreshers_run_at_most_once_per_cache_period() -> None:
    metrics = ServiceMetrics("t", cache_s=3600)
    calls: list[int] = []

    async def refresh() -> None:
        calls.append(1)

    metrics.add_refresher(refresh)
    await asyncio.gather(*(metrics.render() for _ in range(5)))
    await metrics.render()
    assert len(calls) == 1


# --- queue depths ---------------------------------------------------------------------------


async def test_queue_depths_count_ready_messages_and_skip_missing_queues(
    amqp_url: str,
) -> None:
    connection = await connect(amqp_url, deadline_s=10, name="metrics-test")
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(infra.unique("mp-depth-"), auto_delete=False)
        for i in range(3):
            await channel.default_exchange.publish(aio_pika.Message(b"%d" % i), queue.name)
        missing = infra.unique("mp-missing-")
        metrics = ServiceMetrics("t", cache_s=0)
        # the missing queue first: its 404 closes the channel, the next probe must reopen
        QueueDepths(metrics, lambda: connection, lambda: [missing, queue.name])
        found = await read(metrics)
        assert sample_value(found, "modelport_amqp_queue_messages", queue=queue.name) == 3
        assert sample_value(found, "modelport_amqp_queue_consumers", queue=queue.name) == 0
        queues = {s.labels["queue"] for s in found["modelport_amqp_queue_messages"].samples}
        assert queues == {queue.name}

        async def ack(message: AbstractIncomingMessage) -> None:
            await message.ack()

        await queue.consume(ack)
        found = await read(metrics)
        assert sample_value(found, "modelport_amqp_queue_consumers", queue=queue.name) == 1

        await queue.delete(if_unused=False, if_empty=False)
        found = await read(metrics)
        assert not found["modelport_amqp_queue_messages"].samples
    finally:
        await connection.close()


async def test_queue_depths_without_a_connection_show_nothing() -> None:
    metrics = ServiceMetrics("t", cache_s=0)
    QueueDepths(metrics, lambda: None, lambda: ["backend.rpc"])
    found = await read(metrics)
    assert not found["modelport_amqp_queue_messages"].samples


# --- warm pool ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def idle_image(docker_engine: str) -> str:  # noqa: F811
    """The project's base image: enough to run the pool's ``sleep infinity``."""
    return subprocess.run([str(REPO / "deploy/base/build-base-image.sh")], check=True,
                          text=True, capture_output=True).stdout.strip().splitlines()[-1]


async def test_warm_pool_counts_hits_and_misses(host: DockerHost,  # noqa: F811
                                                idle_image: str) -> None:
    metrics = ServiceMetrics("solve", cache_s=0)
    warm_metrics = WarmMetrics(metrics.registry)
    pool = WarmPool(host, size=1, limits=Limits(memory_mb=128), metrics=warm_metrics)
    acquired = []
    try:
        found = await read(metrics)
        for outcome in ("hit", "miss"):
            assert sample_value(found, "modelport_warm_pool_acquisitions", "_total",
                                host=host.name, outcome=outcome) == 0
        pool.add_runtime("rt", idle_image)
        async with asyncio.timeout(60):
            await pool.wait_filled("rt")
        acquired.append(await pool.acquire("rt", idle_image, kind="job", id="hit", attempt=1,
                                           service=host.service))
        acquired.append(await pool.acquire("rt", idle_image, kind="job", id="miss", attempt=1,
                                           service=host.service, limits=Limits(memory_mb=64)))
        found = await read(metrics)
        assert sample_value(found, "modelport_warm_pool_acquisitions", "_total",
                            host=host.name, outcome="hit") == 1
        assert sample_value(found, "modelport_warm_pool_acquisitions", "_total",
                            host=host.name, outcome="miss") == 1
    finally:
        await pool.close()
        for container in acquired:
            await remove(container)


# --- the portal's token, and where Prometheus looks -----------------------------------------


async def test_portal_metrics_need_the_token_when_one_is_set(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path,
) -> None:
    token = "a-metrics-token-1"
    async with running_stack(pg_dsn, amqp_url, s3_settings, tmp_path,
                             portal={"metrics_token": token}) as stack:
        url = stack.url("/metrics")
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"Authorization": "Bearer wrong"},
                            {"Authorization": token}, stack.admin_headers):
                async with http.get(url, headers=headers, allow_redirects=False) as resp:
                    assert resp.status == 401, headers
                    assert "modelport_" not in await resp.text()
        found = await scrape(url, {"Authorization": f"Bearer {token}"})
        assert "modelport_http_request_duration_seconds" in found


def test_prometheus_config_scrapes_each_service_on_its_default_port() -> None:
    text = (REPO / "deploy/prometheus/prometheus.yml").read_text()
    jobs = dict(re.findall(r"names: \[(\w+)\]\s+type: A\s+port: (\d+)", text))
    defaults = {"portal": PortalSettings.model_fields["port"].default,
                "backend": BackendSettings.model_fields["status_port"].default,
                "session": SessionSettings.model_fields["status_port"].default,
                "solve": SolveSettings.model_fields["status_port"].default}
    assert {name: int(port) for name, port in jobs.items()} == defaults
    assert re.findall(r"job_name: (\w+)", text) == list(defaults)


async def test_openmetrics_on_request_classic_text_by_default() -> None:
    metrics = ServiceMetrics("t", cache_s=0)
    body, content_type = await metrics.render()
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert b"# EOF" not in body
    body, content_type = await metrics.render(
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert body.endswith(b"# EOF\n")


async def test_a_scrape_while_the_broker_is_away_answers_with_the_last_depths(
    amqp_url: str,
) -> None:
    async with TcpProxy("127.0.0.1", 5672) as proxy:
        connection = await connect(amqp_url.replace("127.0.0.1:5672", f"127.0.0.1:{proxy.port}"),
                                   deadline_s=10, name="metrics-cut")
        try:
            channel = await connection.channel()
            queue = await channel.declare_queue(infra.unique("mp-depth-"), auto_delete=True)
            await channel.default_exchange.publish(aio_pika.Message(b"x"), queue.name)
            metrics = ServiceMetrics("t", cache_s=0)
            QueueDepths(metrics, lambda: connection, lambda: [queue.name])
            assert sample_value(await read(metrics), "modelport_amqp_queue_messages",
                                queue=queue.name) == 1
            await proxy.cut()
            async with asyncio.timeout(REFRESH_TIMEOUT_S + 3):
                found = await read(metrics)
            assert sample_value(found, "modelport_amqp_queue_messages", queue=queue.name) == 1
            await proxy.restore()
        finally:
            await connection.close()
