"""Backend's side of worker identity and stale attempts, on a real backend with fake workers
speaking the real protocol: which foreign containers a report's reply calls orphans, and a
zombie attempt (finishing late, after its lease was lost and the job re-ran) changing
nothing."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from common.amqp.rpc import RpcClient
from common.contracts.jobs import (
    BlobRef,
    ForeignContainer,
    JobRef,
    WorkerReport,
    WorkerReportReply,
)
from common.contracts.methods import JobMethods, WorkerMethods
from tests.backend.helpers import SHA
from tests.backend.jobs_support import (  # noqa: F401
    B,
    FakeWorker,
    jobs_backend,
    setup_app,
    sql,
    submit,
)
from tests.support.events import EventTap

pytestmark = pytest.mark.usefixtures("jobs_backend")


def _blob(key: str) -> BlobRef:
    return BlobRef(s3_key=key, sha256=SHA, size_bytes=5)


async def _report(rpc: RpcClient, worker: str, foreign: list[ForeignContainer]
                  ) -> WorkerReportReply:
    msg = WorkerReport(worker=worker, slots_total=0, slots_free=0, running=[], foreign=foreign)
    return await rpc.call_method(WorkerMethods.REPORT, msg)


async def test_report_names_orphans_only_when_nobody_alive_owns_them(
    rpc: RpcClient, amqp_url: str, pg_dsn: str
) -> None:
    alice = await setup_app(rpc)
    async with FakeWorker(amqp_url, rpc, "w1", slots=1) as w1:
        job = await submit(rpc, alice)
        await w1.report()
        await w1.run_of(job.id)
        assert await w1.started(job.id)
        running = ForeignContainer(name="a", owner_worker="w1", job_id=job.id, attempt=1)
        older = ForeignContainer(name="b", owner_worker="w1", job_id=job.id, attempt=0)
        unknown = ForeignContainer(name="c", owner_worker="w1", job_id=str(uuid.uuid4()),
                                   attempt=1)
        garbage = ForeignContainer(name="d", owner_worker="", job_id="not-a-uuid", attempt=1)
        idle_live = ForeignContainer(name="e", owner_worker="w1")
        idle_dead = ForeignContainer(name="f", owner_worker="never-reported")
        seen = [running, older, unknown, garbage, idle_live, idle_dead]
        reply = await _report(rpc, "w2", seen)
        assert sorted(reply.reclaim) == ["b", "c", "d", "f"]
        assert reply.stop == []
        # w1 dies: its lease lapses and its report goes stale; now both of its are orphans
        await sql(pg_dsn, "UPDATE jobs SET lease_expires_at = now() - interval '1 s'")
        await sql(pg_dsn, "UPDATE workers SET last_report_at = now() - interval '1 hour' "
                  "WHERE name = 'w1'")
        reply = await _report(rpc, "w2", seen)
        assert sorted(reply.reclaim) == ["a", "b", "c", "d", "e", "f"]
        # the reporting worker's own state is untouched by what it saw
        assert (await _report(rpc, "w2", [])).reclaim == []


async def _row(dsn: str, job_id: str) -> dict[str, object]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT state, attempt, worker, reason, output_case_id, log_s3_key, lineage, "
            "finished_at FROM jobs WHERE id = $1", uuid.UUID(job_id))
        assert row is not None
        return dict(row)
    finally:
        await conn.close()


async def test_a_zombie_attempt_finishing_late_changes_nothing(
    rpc: RpcClient, amqp_url: str, pg_dsn: str
) -> None:
    alice = await setup_app(rpc)
    async with EventTap(amqp_url, "modelport.job.*") as tap, \
            FakeWorker(amqp_url, rpc, "zombie") as zombie, \
            FakeWorker(amqp_url, rpc, "winner") as winner:
        job = await submit(rpc, alice)
        await zombie.report()
        await zombie.run_of(job.id)
        assert await zombie.started(job.id)
        await zombie.report([(job.id, 1)], free=0)  # full: the re-run goes to the winner
        await sql(pg_dsn, "UPDATE jobs SET lease_expires_at = now() - interval '1 s'")
        await tap.wait_for(lambda e: e["type"] == "modelport.job.lost")
        await winner.report()
        await winner.run_of(job.id, attempt=2)
        assert await winner.started(job.id, attempt=2)

        # while attempt 2 runs, attempt 1 reports success, failure, cancel: all refused
        running = await _row(pg_dsn, job.id)
        for outcome in ("succeeded", "failed", "cancelled"):
            assert not await zombie.finished(job.id, attempt=1, outcome=outcome,
                                             output_case=_blob("jobs/zombie/output"),
                                             log=_blob("jobs/zombie/log"),
                                             lineage={"from": "zombie"})
        assert not await winner.finished(job.id, attempt=1)  # a stale attempt, any worker
        assert await _row(pg_dsn, job.id) == running

        assert await winner.finished(job.id, attempt=2, output_case=_blob("jobs/win/output"),
                                     log=_blob("jobs/win/log"), lineage={"from": "winner"})
        won = await _row(pg_dsn, job.id)
        assert (won["state"], won["attempt"], won["worker"]) == ("succeeded", 2, "winner")
        assert won["log_s3_key"] == "jobs/win/log" and won["output_case_id"] is not None

        # after the win, the zombie's late reports still change nothing
        for outcome in ("succeeded", "failed"):
            assert not await zombie.finished(job.id, attempt=1, outcome=outcome,
                                             output_case=_blob("jobs/zombie/output"),
                                             log=_blob("jobs/zombie/log"))
        assert not await zombie.progress(job.id, 0.9, attempt=1)
        assert not await zombie.started(job.id, attempt=1)
        assert await _row(pg_dsn, job.id) == won
        out = await rpc.call_method(JobMethods.GET, JobRef(actor=alice, job_id=job.id))
        assert out.output_case_id == str(won["output_case_id"]) and out.state == "succeeded"
        # one terminal event, the winner's
        await tap.wait_for(lambda e: e["type"] == "modelport.job.succeeded")
        finals = [e for e in tap.events if e["type"].rsplit(".", 1)[1]
                  in ("succeeded", "failed", "cancelled")]
        assert [(e["data"]["attempt"]) for e in finals] == [2]
