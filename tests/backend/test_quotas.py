"""Quotas against a real backend (PostgreSQL, RabbitMQ): the N+1th queued job, session and
case are refused naming the quota, concurrent requests never overshoot, the running-jobs
quota makes jobs wait, a used-up monthly CPU budget refuses submits, overrides resolve user →
most generous group → default, job time limits, and who may read and set quotas."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from backend_svc.service import BackendService
from common.amqp.rpc import RpcClient
from common.contracts.base import Principal
from common.contracts.cases import RegisterCase
from common.contracts.groups import CreateGroup, GroupMember
from common.contracts.methods import CaseMethods, GroupMethods, QuotaMethods
from common.contracts.quotas import ListQuotas, QuotaTarget, QuotaValues, SetQuotas, UsageQuery
from common.errors import ModelportError, QuotaExceeded
from tests.backend.conftest import backend_settings
from tests.backend.helpers import ADMIN, SHA, make_user, refused, snapshot
from tests.backend.jobs_support import FakeWorker, setup_app, sql, submit
from tests.sessions.backend_support import create as create_session

MB = 1024 * 1024


@pytest.fixture
async def quota_backend(pg_dsn: str, amqp_url: str) -> AsyncIterator[BackendService]:
    service = BackendService(backend_settings(
        pg_dsn, amqp_url, scheduler_interval_s=0.2, max_queued_per_user=3,
        max_running_per_user=1, max_sessions_per_user=2, max_cpu_hours_per_month=1,
        max_case_storage_mb=1, default_time_limit_s=600, max_time_limit_s=3600, job_cpus=2.0))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def _set(rpc: RpcClient, kind: str, name: str, **values: int) -> None:
    await rpc.call_method(QuotaMethods.SET, SetQuotas(
        actor=ADMIN, kind=kind, name=name, values=QuotaValues(**values)))  # type: ignore[arg-type]


async def _lines(rpc: RpcClient, user: str) -> dict[str, tuple[int, str, int]]:
    found = await rpc.call_method(QuotaMethods.GET, QuotaTarget(actor=ADMIN, kind="user",
                                                                name=user))
    return {line.quota: (line.limit, line.source, line.used) for line in found.effective}


async def _count(dsn: str, query: str, *args: Any) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(query, *args))
    finally:
        await conn.close()


def _case(owner: Principal, size: int) -> RegisterCase:
    case_id = str(uuid.uuid4())
    return RegisterCase(actor=owner, case_id=case_id, app="transport", name="input",
                        s3_key=f"cases/{case_id}", sha256=SHA, size_bytes=size)


async def test_the_next_queued_job_is_refused_naming_the_quota(
    quota_backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    alice = await setup_app(rpc)
    for _ in range(3):
        await submit(rpc, alice)
    before = await snapshot(pg_dsn)
    error = await refused(submit(rpc, alice))
    assert isinstance(error, QuotaExceeded) and (error.status, error.code) == (
        429, "quota_exceeded")
    assert error.message.startswith("queued jobs: 3 of 3")
    assert error.details == {"quota": "queued_jobs", "limit": 3, "used": 3}
    assert await snapshot(pg_dsn) == before
    bob = await make_user(rpc, "bob")  # a quota is per user
    assert (await submit(rpc, bob)).state == "queued"


async def test_concurrent_submits_never_pass_the_quota(
    quota_backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    alice = await setup_app(rpc)
    results = await asyncio.gather(*(submit(rpc, alice) for _ in range(8)),
                                   return_exceptions=True)
    refusals = [r for r in results if isinstance(r, ModelportError)]
    assert len(refusals) == 5 and all(r.code == "quota_exceeded" for r in refusals)
    assert await _count(pg_dsn, "SELECT count(*) FROM jobs") == 3


async def test_concurrent_sessions_never_pass_the_quota(
    quota_backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    alice = await setup_app(rpc)
    results = await asyncio.gather(*(create_session(rpc, alice) for _ in range(6)),
                                   return_exceptions=True)
    refusals = [r for r in results if isinstance(r, ModelportError)]
    assert len(refusals) == 4
    assert {r.message.split(";")[0] for r in refusals} == {"concurrent sessions: 2 of 2"}
    assert await _count(pg_dsn, "SELECT count(*) FROM sessions") == 2


async def test_a_case_past_the_storage_quota_is_refused(
    quota_backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    alice = await setup_app(rpc)
    await rpc.call_method(CaseMethods.REGISTER, _case(alice, 600_000))
    before = await snapshot(pg_dsn)
    error = await refused(rpc.call_method(CaseMethods.REGISTER, _case(alice, 600_000)))
    assert error.code == "quota_exceeded"
    assert error.message.startswith(f"case storage (bytes): 600000 of {MB}")
    assert error.details == {"quota": "storage_bytes", "limit": MB, "used": 600_000}
    assert await snapshot(pg_dsn) == before
    await rpc.call_method(CaseMethods.REGISTER, _case(alice, MB - 600_000))  # exactly full


async def test_overrides_resolve_user_then_most_generous_group_then_default(
    quota_backend: BackendService, rpc: RpcClient
) -> None:
    alice = await setup_app(rpc)
    assert (await _lines(rpc, "alice"))["queued_jobs"] == (3, "default", 0)
    for group, value in (("small", 4), ("big", 6)):
        await rpc.call_method(GroupMethods.CREATE, CreateGroup(actor=ADMIN, name=group))
        await rpc.call_method(GroupMethods.ADD_MEMBER,
                              GroupMember(actor=ADMIN, group=group, username="alice"))
        await _set(rpc, "group", group, queued_jobs=value)
    assert (await _lines(rpc, "alice"))["queued_jobs"] == (6, "group", 0)
    for _ in range(6):
        await submit(rpc, alice)
    assert (await refused(submit(rpc, alice))).message.startswith("queued jobs: 6 of 6")
    await _set(rpc, "user", "alice", queued_jobs=7, sessions=0)
    lines = await _lines(rpc, "alice")
    assert lines["queued_jobs"] == (7, "user", 6) and lines["sessions"] == (0, "user", 0)
    await submit(rpc, alice)
    assert (await refused(create_session(rpc, alice))).details == {
        "quota": "sessions", "limit": 0, "used": 0}
    await _set(rpc, "user", "alice")  # no values: the overrides are cleared
    assert (await _lines(rpc, "alice"))["queued_jobs"] == (6, "group", 7)
    overview = await rpc.call_method(QuotaMethods.LIST, ListQuotas(actor=ADMIN))
    assert overview.defaults.queued_jobs == 3 and overview.defaults.storage_bytes == MB
    assert [(o.kind, o.name, o.overrides.queued_jobs) for o in overview.overrides] == [
        ("group", "big", 6), ("group", "small", 4)]


async def test_only_admins_read_and_set_quotas_and_usage(
    quota_backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    alice = await setup_app(rpc)
    before = await snapshot(pg_dsn)
    for call in (
        rpc.call_method(QuotaMethods.GET, QuotaTarget(actor=alice, kind="user", name="alice")),
        rpc.call_method(QuotaMethods.SET, SetQuotas(actor=alice, kind="user", name="alice",
                                                    values=QuotaValues(queued_jobs=100))),
        rpc.call_method(QuotaMethods.USAGE, UsageQuery(actor=alice)),
    ):
        assert (await refused(call)).status == 403
    assert await snapshot(pg_dsn) == before
    error = await refused(rpc.call_method(QuotaMethods.GET, QuotaTarget(
        actor=ADMIN, kind="group", name="nobody")))
    assert (error.status, error.code) == (404, "unknown_group")


async def test_a_job_without_a_time_limit_gets_the_default_and_too_long_is_refused(
    quota_backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    alice = await setup_app(rpc)
    assert (await submit(rpc, alice)).time_limit_s == 600
    assert (await submit(rpc, alice, time_limit_s=3600)).time_limit_s == 3600
    before = await snapshot(pg_dsn)
    error = await refused(submit(rpc, alice, time_limit_s=3601))
    assert (error.status, error.code) == (422, "time_limit_too_long")
    assert "at most 3600 s" in error.message
    assert await snapshot(pg_dsn) == before


async def test_running_quota_makes_jobs_wait_not_refused(
    quota_backend: BackendService, rpc: RpcClient, amqp_url: str, pg_dsn: str
) -> None:
    alice = await setup_app(rpc)
    await _set(rpc, "user", "alice", running_jobs=2)
    jobs = [await submit(rpc, alice) for _ in range(3)]  # no worker yet: all wait
    async with FakeWorker(amqp_url, rpc, "w1", slots=4) as worker:
        await worker.report()
        await worker.run_of(jobs[0].id)
        await worker.run_of(jobs[1].id)
        states = {str(r["id"]): r["state"] for r in await _rows(pg_dsn, "SELECT id, state "
                                                                      "FROM jobs")}
        assert states[jobs[2].id] == "queued"  # one pass planned all it would: two
        await worker.started(jobs[0].id)
        await worker.finished(jobs[0].id)
        await worker.run_of(jobs[2].id)


async def _rows(dsn: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


async def test_used_up_cpu_hours_refuse_submits_and_show_in_usage(
    quota_backend: BackendService, rpc: RpcClient, amqp_url: str, pg_dsn: str
) -> None:
    alice = await setup_app(rpc)
    job = await submit(rpc, alice)
    async with FakeWorker(amqp_url, rpc, "w1") as worker:
        await worker.report()
        await worker.run_of(job.id)
        await worker.started(job.id)
        await worker.finished(job.id)
    rows = await _rows(pg_dsn, "SELECT attempt, cpus, ended_at FROM job_attempts")
    assert [(r["attempt"], r["cpus"]) for r in rows] == [(1, 2.0)] and rows[0]["ended_at"]
    # The attempt ran 40 minutes on 2 cores: 80 CPU-minutes, past the 1 h budget.
    await sql(pg_dsn, "UPDATE job_attempts SET started_at = ended_at - interval '40 minutes'")
    before = await snapshot(pg_dsn)
    error = await refused(submit(rpc, alice))
    assert isinstance(error, QuotaExceeded)
    assert error.message.startswith("job CPU-hours this month: 2 of 1")
    assert error.details == {"quota": "cpu_hours_month", "limit": 1, "used": 2}
    assert error.retry_after_s > 0
    assert await snapshot(pg_dsn) == before
    report = await rpc.call_method(QuotaMethods.USAGE, UsageQuery(actor=ADMIN))
    [row] = report.rows
    assert (row.user, row.app, row.jobs, row.sessions) == ("alice", "transport", 1, 0)
    assert 4800 <= row.job_cpu_seconds < 4810
