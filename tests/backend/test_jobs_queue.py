"""Jobs: fair share, limits, not_before and refused submissions (nothing queued)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from common.amqp.rpc import RpcClient
from common.contracts.base import Principal
from common.contracts.jobs import SubmitJob
from common.contracts.methods import JobMethods, RegistryMethods
from common.contracts.registry import AppVersionOut, PublishAppVersion
from tests.backend.helpers import ADMIN, SHA, make_user, refused, snapshot
from tests.backend.jobs_support import (  # noqa: F401
    B,
    FakeWorker,
    job_states,
    jobs_backend,
    make_case,
    setup_app,
    submit,
)

pytestmark = pytest.mark.usefixtures("jobs_backend")


async def test_fair_share_b_gets_the_next_free_slot(
    rpc: RpcClient, amqp_url: str, pg_dsn: str
) -> None:
    alice = await setup_app(rpc)
    bob = await make_user(rpc, "bob")
    a_jobs = [await submit(rpc, alice, priority=0) for _ in range(50)]
    async with FakeWorker(amqp_url, rpc, "w1", slots=2) as worker:
        await worker.report()
        first = [await worker.run_of(j.id) for j in a_jobs[:2]]
        b_job = await submit(rpc, bob)
        assert await worker.started(first[0]["job_id"])
        assert await worker.finished(first[0]["job_id"])
        await worker.report([(first[1]["job_id"], 1)])
        await worker.run_of(b_job.id)
    states = await job_states(pg_dsn)
    assert sum(s == "scheduled" for s in states.values()) == 2
    assert states[a_jobs[2].id] == "queued"


async def test_per_user_limit_and_not_before(rpc: RpcClient, amqp_url: str, pg_dsn: str) -> None:
    alice = await setup_app(rpc)
    bob = await make_user(rpc, "bob")
    mine = [await submit(rpc, alice) for _ in range(5)]  # the limit is 3
    later = await submit(rpc, bob, not_before="2999-01-01T00:00:00Z")
    due = await submit(rpc, bob, not_before="2000-01-01T00:00:00Z")
    async with FakeWorker(amqp_url, rpc, "w1", slots=10) as worker:
        await worker.report()
        await worker.run_of(due.id)  # the sentinel: it is scheduled in the same pass
        for job in mine[:3]:
            await worker.run_of(job.id)
    states = await job_states(pg_dsn)
    assert [states[j.id] for j in mine] == ["scheduled"] * 3 + ["queued"] * 2
    assert states[later.id] == "queued"
    assert len([m for m in worker.messages if m["_type"] == "job.run"]) == 4


async def _publish_declaring(rpc: RpcClient) -> AppVersionOut:
    request = PublishAppVersion(
        actor=ADMIN, name="declared", version="1.0.0", title="Declared",
        runtime_requirement=">=1.0", s3_key="apps/declared/1.0.0/app.mpapp", sha256=SHA,
        size_bytes=9, manifest={"name": "declared", "procedures": [{"name": "solve"}]},
    )
    return await rpc.call_method(RegistryMethods.PUBLISH_APP, request)


async def test_bad_submissions_queue_nothing(rpc: RpcClient, pg_dsn: str) -> None:
    alice = await setup_app(rpc)
    bob = await make_user(rpc, "bob")
    await _publish_declaring(rpc)
    bobs_case = await make_case(rpc, bob)
    before = await snapshot(pg_dsn)
    cases: list[tuple[dict[str, object], int, str]] = [
        ({"app": "nope"}, 404, "unknown_app"),
        ({"version": "9.9.9"}, 404, "unknown_version"),
        ({"app": "declared", "procedure": "optimize"}, 400, "unknown_procedure"),
        ({"input_case_id": bobs_case.id}, 404, "not_found"),
        ({"input_case_id": "not-a-uuid"}, 404, "not_found"),
    ]
    for fields, status, code in cases:
        err = await refused(submit(rpc, alice, **fields))
        assert (err.status, err.code) == (status, code), fields
    for fields in ({"priority": 11}, {"memory_mb": 1}, {"time_limit_s": 0}, {"procedure": ""}):
        body = {"actor": alice.model_dump(), "app": "transport", "procedure": "solve"} | fields
        err = await refused(rpc.call(B, JobMethods.SUBMIT.name, _Raw(**body), SubmitJob))
        assert err.status == 400 and next(iter(fields)) in err.message
    system = await refused(submit(rpc, Principal.SYSTEM))
    assert system.status == 400
    assert await snapshot(pg_dsn) == before


class _Raw(BaseModel):
    """A body sent as is, so the server's validation is what refuses it."""

    model_config = ConfigDict(extra="allow")
