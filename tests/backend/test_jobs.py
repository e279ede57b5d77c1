"""Jobs end to end: a real backend in-process and a fake worker on the real protocol."""

from __future__ import annotations

import uuid

import pytest

from common.amqp.rpc import RpcClient
from common.contracts.cases import CaseRef
from common.contracts.jobs import BlobRef, JobRef, attempt_key
from common.contracts.methods import CaseMethods, JobMethods
from tests.backend.helpers import SHA, refused
from tests.backend.jobs_support import (  # noqa: F401
    B,
    FakeWorker,
    jobs_backend,
    make_case,
    setup_app,
    sql,
    submit,
)
from tests.support.events import EventTap

pytestmark = pytest.mark.usefixtures("jobs_backend")

OUTPUT = BlobRef(s3_key="jobs/x/output", sha256=SHA, size_bytes=5)


def _log(job_id: str, attempt: int) -> BlobRef:
    return BlobRef(s3_key=attempt_key(job_id, attempt, "log"), sha256=SHA, size_bytes=7)


async def test_submit_run_progress_finish_with_output_case(
    rpc: RpcClient, amqp_url: str
) -> None:
    alice = await setup_app(rpc)
    case = await make_case(rpc, alice)
    async with EventTap(amqp_url, "modelport.job.*") as tap, \
            FakeWorker(amqp_url, rpc, "w1") as worker:
        job = await submit(rpc, alice, input_case_id=case.id, options={"gap": 0.01})
        assert job.state == "queued" and job.queue_position == 1
        await worker.report()
        run = await worker.run_of(job.id)
        assert run["runtime_version"] == "1.2.0"
        assert run["input_case"]["s3_key"] == f"cases/{case.id}"
        assert run["options"] == {"gap": 0.01} and run["memory_mb"] == 2048
        assert await worker.started(job.id)
        for fraction in (0.25, 0.5, 0.75):  # one event: the rest fall within the rate limit
            assert await worker.progress(job.id, fraction)
        assert await worker.finished(job.id, output_case=OUTPUT, lineage={"procedure": "solve"})
        # Idempotent: a duplicate and a stale attempt change nothing and publish nothing.
        assert not await worker.finished(job.id, outcome="failed")
        assert not await worker.finished(job.id, attempt=7)
        assert not await worker.progress(job.id, 1.0)
        sentinel = await submit(rpc, alice, procedure="sentinel")
        await tap.wait_for(lambda e: e["subject"] == sentinel.id)
    mine = [e["type"].rsplit(".", 1)[1] for e in tap.events if e["subject"] == job.id]
    assert mine == ["queued", "started", "progress", "succeeded"]
    done = await rpc.call_method(JobMethods.GET, JobRef(actor=alice, job_id=job.id))
    assert done.state == "succeeded" and done.progress == 0.75 and done.output_case_id
    result = await rpc.call_method(
        CaseMethods.GET, CaseRef(actor=alice, case_id=done.output_case_id))
    assert result.case.owner == "alice" and result.case.name == f"solve result {job.id[:8]}"


async def test_cancel_queued_and_running(
    rpc: RpcClient, amqp_url: str
) -> None:
    alice = await setup_app(rpc)
    queued = await submit(rpc, alice, not_before="2999-01-01T00:00:00Z")
    cancelled = await rpc.call_method(JobMethods.CANCEL, JobRef(actor=alice, job_id=queued.id))
    assert cancelled.state == "cancelled"
    again = await refused(rpc.call_method(JobMethods.CANCEL, JobRef(actor=alice, job_id=queued.id)))
    assert again.status == 409 and again.code == "not_cancellable"
    async with FakeWorker(amqp_url, rpc, "w1") as worker:
        job = await submit(rpc, alice)
        await worker.report()
        await worker.run_of(job.id)
        await worker.started(job.id)
        await rpc.call_method(JobMethods.CANCEL, JobRef(actor=alice, job_id=job.id))
        stop = await worker.wait_for(lambda m: m["_type"] == "job.stop")
        assert (stop["job_id"], stop["attempt"], stop["mode"]) == (job.id, 1, "cancel")
        reply = await worker.report([(job.id, 1)])
        assert [(s.job_id, s.mode) for s in reply.stop] == [(job.id, "cancel")]
        assert await worker.finished(job.id, outcome="cancelled")
    done = await rpc.call_method(JobMethods.GET, JobRef(actor=alice, job_id=job.id))
    assert done.state == "cancelled" and done.reason == "cancelled"


async def test_interrupt_only_while_running(
    rpc: RpcClient, amqp_url: str
) -> None:
    alice = await setup_app(rpc)
    async with FakeWorker(amqp_url, rpc, "w1") as worker:
        job = await submit(rpc, alice)
        await worker.report()
        await worker.run_of(job.id)
        early = await refused(rpc.call_method(
            JobMethods.INTERRUPT, JobRef(actor=alice, job_id=job.id)))
        assert early.status == 409 and early.code == "not_interruptible"
        await worker.started(job.id)
        await rpc.call_method(JobMethods.INTERRUPT, JobRef(actor=alice, job_id=job.id))
        stop = await worker.wait_for(lambda m: m["_type"] == "job.stop")
        assert stop["mode"] == "interrupt"
        assert await worker.finished(job.id, interrupted=True, output_case=OUTPUT)
    done = await rpc.call_method(JobMethods.GET, JobRef(actor=alice, job_id=job.id))
    assert done.state == "succeeded" and done.interrupted


async def test_lost_lease_requeues_and_second_attempt_succeeds_once(
    rpc: RpcClient, amqp_url: str, pg_dsn: str
) -> None:
    alice = await setup_app(rpc)
    async with EventTap(amqp_url, "modelport.job.*") as tap, \
            FakeWorker(amqp_url, rpc, "w1") as worker:
        job = await submit(rpc, alice)
        await worker.report()
        await worker.run_of(job.id)
        await worker.started(job.id)
        await sql(pg_dsn, "UPDATE jobs SET lease_expires_at = now() - interval '1 s'")
        await tap.wait_for(lambda e: e["type"] == "modelport.job.lost")
        await worker.report()
        await worker.run_of(job.id, attempt=2)
        # the lost attempt is stale: its log is not the job's
        assert not await worker.finished(job.id, attempt=1, log=_log(job.id, 1))
        reply = await worker.report([(job.id, 1), (job.id, 2)])
        assert [(s.attempt, s.mode) for s in reply.stop] == [(1, "cancel")]
        assert await worker.started(job.id, attempt=2)
        assert await worker.finished(job.id, attempt=2, log=_log(job.id, 2))
        assert not await worker.finished(job.id, attempt=1, log=_log(job.id, 1))  # a zombie
        won = await rpc.call_method(JobMethods.GET, JobRef(actor=alice, job_id=job.id))
        assert won.log_s3_key == attempt_key(job.id, 2, "log")
        # max_attempts=2: a second loss of another job fails it for good.
        other = await submit(rpc, alice, procedure="other")
        await worker.report()
        await worker.run_of(other.id)
        for attempt in (1, 2):
            await sql(pg_dsn, "UPDATE jobs SET lease_expires_at = now() - interval '1 s' "
                      "WHERE id = $1 AND attempt = $2", uuid.UUID(other.id), attempt)
            if attempt == 1:
                await tap.wait_for(lambda e: e["type"] == "modelport.job.lost"
                                   and e["subject"] == other.id)
                await worker.report()
                await worker.run_of(other.id, attempt=2)
        failed = await tap.wait_for(lambda e: e["type"] == "modelport.job.failed")
    assert failed["subject"] == other.id and failed["data"]["reason"] == "retries_exhausted"
    assert len([e for e in tap.of_type("modelport.job.succeeded")]) == 1


async def test_another_users_job_is_not_found_and_admin_lists_all(
    rpc: RpcClient
) -> None:
    from common.contracts.jobs import ListJobs
    from tests.backend.helpers import ADMIN, make_user

    alice = await setup_app(rpc)
    bob = await make_user(rpc, "bob")
    job = await submit(rpc, alice)
    for method in (JobMethods.GET, JobMethods.CANCEL, JobMethods.INTERRUPT):
        err = await refused(rpc.call_method(method, JobRef(actor=bob, job_id=job.id)))
        assert err.status == 404
    assert (await rpc.call_method(JobMethods.LIST, ListJobs(actor=bob))).total == 0
    everyone = await rpc.call_method(JobMethods.LIST, ListJobs(actor=ADMIN, user="alice"))
    assert [j.id for j in everyone.jobs] == [job.id] and everyone.jobs[0].queue_position == 1


async def test_infrastructure_failure_requeues_instead_of_failing(
    rpc: RpcClient, amqp_url: str
) -> None:
    alice = await setup_app(rpc)
    async with EventTap(amqp_url, "modelport.job.*") as tap, \
            FakeWorker(amqp_url, rpc, "w1") as worker:
        job = await submit(rpc, alice)
        await worker.report()
        await worker.run_of(job.id)
        assert await worker.started(job.id)
        assert await worker.finished(job.id, outcome="failed", reason="infrastructure")
        lost = await tap.wait_for(lambda e: e["type"] == "modelport.job.lost")
        await worker.report()
        await worker.run_of(job.id, attempt=2)  # scheduled again, on the next attempt
        assert await worker.started(job.id, attempt=2)
        assert await worker.finished(job.id, attempt=2)
        await tap.wait_for(lambda e: e["type"] == "modelport.job.succeeded")
    assert lost["data"]["reason"] == "infrastructure"
    assert tap.of_type("modelport.job.failed") == []
