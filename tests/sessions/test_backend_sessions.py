"""Sessions in backend: the state machine, leases, the per-user limit, the owner-only rule and
the worker's acts as the owner — a real backend in-process, a fake worker on the protocol."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from common.amqp.rpc import RpcClient
from common.contracts.jobs import BlobRef
from common.contracts.methods import SessionMethods
from common.contracts.sessions import (
    ListSessions,
    SessionCaseRef,
    SessionJobRef,
    SessionRef,
    SessionSaveCase,
    SessionSubmitJob,
)
from tests.backend.helpers import SHA, make_user, refused, snapshot
from tests.backend.jobs_support import make_case, setup_app
from tests.sessions.backend_support import (  # noqa: F401
    FakeSessionWorker,
    create,
    get,
    sessions_backend,
)
from tests.support.events import EventTap

pytestmark = pytest.mark.usefixtures("sessions_backend")
BLOB = BlobRef(s3_key="cases/x", sha256=SHA, size_bytes=7)


async def test_request_claim_ready_stop_stopped_with_events(
    rpc: RpcClient, amqp_url: str, pg_dsn: str
) -> None:
    alice = await setup_app(rpc)
    async with EventTap(amqp_url, "modelport.session.*") as tap, \
            FakeSessionWorker(amqp_url, rpc, "s1") as worker:
        session = await create(rpc, alice)
        assert session.state == "requested" and session.user == "alice"
        launch = await worker.claim(session.id)
        assert launch.current and launch.attempt == 1 and launch.owner is not None
        assert launch.owner.user_id == alice.user_id and launch.runtime_version == "1.2.0"
        assert launch.app_package is not None and launch.case is None
        again = await worker.claim(session.id)  # a redelivered start: not ours any more
        assert not again.current
        assert await worker.ready(session.id)
        ready = await get(rpc, alice, session.id)
        assert ready.state == "ready" and ready.endpoint == "http://10.9.0.2:8000"
        assert (await worker.report((session.id, 1, 12.0))).stop == []
        stopping = await rpc.call_method(SessionMethods.STOP,
                                         SessionRef(actor=alice, session_id=session.id))
        assert stopping.state == "stopping"
        stop = await worker.wait_for(lambda m: m["_type"] == "session.stop")
        assert (stop["session_id"], stop["attempt"], stop["reason"]) == (session.id, 1, "user")
        assert [s.reason for s in (await worker.report((session.id, 1, None))).stop] == ["user"]
        assert await worker.stopped(session.id, autosave_case_id=None)
        assert not await worker.stopped(session.id)  # idempotent
        await tap.wait_for(lambda e: e["type"] == "modelport.session.stopped")
    kinds = [e["type"].rsplit(".", 1)[1] for e in tap.events if e["subject"] == session.id]
    assert kinds == ["requested", "ready", "stopped"]
    done = await get(rpc, alice, session.id)
    assert done.state == "stopped" and done.reason == "user" and done.endpoint is None
    conn = await asyncpg.connect(pg_dsn)
    try:
        audited = [(r["action"], r["actor_name"]) for r in await conn.fetch(
            "SELECT action, actor_name FROM audit_log WHERE subject = $1 ORDER BY id",
            session.id)]
    finally:
        await conn.close()
    assert audited == [("session.create", "alice"), ("session.claim", "session-worker:s1"),
                       ("session.ready", "session-worker:s1"), ("session.stop", "alice"),
                       ("session.stopped", "session-worker:s1")]


async def test_a_session_its_live_worker_dropped_is_lost_and_unclaimed_fails(
    rpc: RpcClient, amqp_url: str
) -> None:
    """The worker goes on reporting, without the session (its agent died): lost, not
    restarted."""
    alice = await setup_app(rpc)
    async with EventTap(amqp_url, "modelport.session.*") as tap, \
            FakeSessionWorker(amqp_url, rpc, "s1") as worker:
        held = await create(rpc, alice)
        await worker.claim(held.id)
        await worker.ready(held.id)
        orphan = await create(rpc, alice)  # claimed by nobody
        beats = asyncio.create_task(_beat(worker))
        try:
            lost = await tap.wait_for(lambda e: e["type"] == "modelport.session.lost")
            failed = await tap.wait_for(lambda e: e["type"] == "modelport.session.failed")
        finally:
            beats.cancel()
    assert lost["subject"] == held.id and lost["data"]["reason"] == "lease_expired"
    assert failed["subject"] == orphan.id and failed["data"]["reason"] == "no_worker"
    seen = await get(rpc, alice, held.id)
    assert seen.state == "lost" and seen.message and "autosave" in seen.message
    # the worker reports it too late: its reports of the lost session count for nothing
    assert [s.reason for s in (await worker.report((held.id, 1, 0.0))).stop] == ["stale"]
    assert not await worker.ready(held.id)


async def _beat(worker: FakeSessionWorker) -> None:
    """Report nothing held every 0.2 s (a live worker), until cancelled."""
    while True:
        await worker.report()
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("after", ["stays-dead", "restarted-under-its-name"])
async def test_a_dead_workers_session_is_restarted_on_another_worker(
    rpc: RpcClient, amqp_url: str, after: str
) -> None:
    """The worker stops reporting (it died), or a new process reports under its name (it
    was restarted; a new ``boot``): its session is restarted (``worker_lost``) from its
    autosave for another worker; the dead one's late reports count for nothing."""
    alice = await setup_app(rpc)
    async with EventTap(amqp_url, "modelport.session.*") as tap:
        async with FakeSessionWorker(amqp_url, rpc, "s1") as doomed:
            held = await create(rpc, alice)
            await doomed.claim(held.id)
            await doomed.ready(held.id)
            assert (await doomed.report((held.id, 1, 0.0))).stop == []
        reborn = FakeSessionWorker(amqp_url, rpc, "s1")  # not consuming: only its reports
        alive = [reborn] if after == "restarted-under-its-name" else []
        async with FakeSessionWorker(amqp_url, rpc, "s2") as survivor:
            beats = [asyncio.create_task(_beat(w)) for w in [survivor, *alive]]
            try:
                launch = await survivor.claim(held.id)
                assert launch.current and launch.attempt == 2
                assert await survivor.ready(held.id, attempt=2)
                await tap.wait_for(lambda e: e["type"] == "modelport.session.ready"
                                   and e["data"]["attempt"] == 2)
            finally:
                for beat in beats:
                    beat.cancel()
        assert [s.reason for s in (await doomed.report((held.id, 1, 0.0))).stop] == ["stale"]
    story = [(e["type"].rsplit(".", 1)[1], e["data"]["attempt"], e["data"]["reason"])
             for e in tap.events if e["subject"] == held.id]
    assert story == [("requested", 0, None), ("ready", 1, None), ("lost", 1, "worker_lost"),
                     ("ready", 2, "worker_lost")], story
    seen = await get(rpc, alice, held.id)
    assert (seen.state, seen.worker, seen.reason) == ("ready", "s2", "worker_lost")
    assert seen.message == ("Restarted after its session worker failed; no autosave had been "
                            "made yet, so it started again from the data it was opened with.")


async def test_heartbeats_keep_the_session(rpc: RpcClient, amqp_url: str) -> None:
    alice = await setup_app(rpc)
    async with FakeSessionWorker(amqp_url, rpc, "s1") as worker:
        session = await create(rpc, alice)
        await worker.claim(session.id)
        await worker.ready(session.id)
        for _ in range(8):  # 2 s: twice the lease
            assert (await worker.report((session.id, 1, 3.0))).stop == []
            await asyncio.sleep(0.25)
        seen = await get(rpc, alice, session.id)
    assert seen.state == "ready" and seen.last_activity_at is not None


async def test_owner_and_admins_only_others_get_404(rpc: RpcClient, amqp_url: str) -> None:
    alice = await setup_app(rpc)
    bob = await make_user(rpc, "bob")
    root = await make_user(rpc, "root", is_admin=True)
    session = await create(rpc, alice)
    for method in (SessionMethods.GET, SessionMethods.STOP):
        error = await refused(rpc.call_method(method, SessionRef(actor=bob, session_id=session.id)))
        assert error.status == 404 and error.message == "session not found"
    unknown = await refused(get(rpc, alice, "6d5c0a4e-0000-4000-8000-000000000000"))
    assert unknown.status == 404
    assert (await get(rpc, root, session.id)).id == session.id
    mine = await rpc.call_method(SessionMethods.LIST, ListSessions(actor=bob))
    assert mine.total == 0
    everyone = await rpc.call_method(SessionMethods.LIST, ListSessions(actor=root, live=True))
    assert [s.id for s in everyone.sessions] == [session.id]
    stopped = await rpc.call_method(SessionMethods.STOP,
                                    SessionRef(actor=root, session_id=session.id))
    assert stopped.state == "stopped" and stopped.reason == "admin"


async def test_bad_requests_change_nothing(rpc: RpcClient, pg_dsn: str) -> None:
    alice = await setup_app(rpc)
    await setup_app_named(rpc, "facility-location")
    other_case = await make_case(rpc, alice, app="facility-location")
    bob = await make_user(rpc, "bob")
    bobs_case = await make_case(rpc, bob)
    before = await snapshot(pg_dsn)
    cases = [
        ({"app": "nope"}, 404, "unknown_app"),
        ({"version": "9.9.9"}, 404, "unknown_version"),
        ({"case_id": other_case.id}, 400, "case_app_mismatch"),
        ({"case_id": bobs_case.id}, 404, "not_found"),
        ({"case_id": "not-a-uuid"}, 404, "not_found"),
    ]
    for fields, status, code in cases:
        error = await refused(create(rpc, alice, **fields))
        assert (error.status, error.code) == (status, code), fields
    assert await snapshot(pg_dsn) == before


async def setup_app_named(rpc: RpcClient, app: str) -> None:
    from tests.backend.helpers import publish

    await publish(rpc, app, "1.0.0")


async def test_per_user_limit(rpc: RpcClient, pg_dsn: str) -> None:
    alice = await setup_app(rpc)
    first = await create(rpc, alice)
    await create(rpc, alice)
    before = await snapshot(pg_dsn)
    error = await refused(create(rpc, alice))
    assert error.status == 429 and error.code == "quota_exceeded"
    assert error.message.startswith("concurrent sessions: 2 of 2")
    assert error.details == {"quota": "sessions", "limit": 2, "used": 2}
    assert await snapshot(pg_dsn) == before
    await rpc.call_method(SessionMethods.STOP,
                                         SessionRef(actor=alice, session_id=first.id))
    assert (await create(rpc, alice)).state == "requested"


async def test_worker_acts_as_the_owner_only_while_it_holds_the_session(
    rpc: RpcClient, amqp_url: str
) -> None:
    alice = await setup_app(rpc)
    bob = await make_user(rpc, "bob")
    bobs_case = await make_case(rpc, bob)
    async with FakeSessionWorker(amqp_url, rpc, "s1") as worker:
        session = await create(rpc, alice)
        await worker.claim(session.id)
        await worker.ready(session.id)
        who = {"worker": "s1", "session_id": session.id, "attempt": 1}
        saved = await rpc.call_method(SessionMethods.SAVE_CASE, SessionSaveCase(
            **who, name="plan A", blob=BLOB, autosave=True))
        assert saved.owner == "alice" and saved.app == "transport"
        assert (await get(rpc, alice, session.id)).autosave_case_id == saved.id
        overwritten = await rpc.call_method(SessionMethods.SAVE_CASE, SessionSaveCase(
            **who, name="plan A2", blob=BLOB.model_copy(update={"size_bytes": 9}),
            case_id=saved.id))
        assert overwritten.id == saved.id and overwritten.size_bytes == 9
        opened = await rpc.call_method(SessionMethods.OPEN_CASE,
                                       SessionCaseRef(**who, case_id=saved.id))
        assert opened.blob.s3_key == "cases/x"
        hidden = await refused(rpc.call_method(SessionMethods.OPEN_CASE,
                                               SessionCaseRef(**who, case_id=bobs_case.id)))
        assert hidden.status == 404
        job = await rpc.call_method(SessionMethods.SUBMIT_JOB, SessionSubmitJob(
            **who, procedure="solve", blob=BLOB))
        assert job.user == "alice" and job.state == "queued" and job.input_case_id
        seen = await rpc.call_method(SessionMethods.JOB, SessionJobRef(**who, job_id=job.id))
        assert seen.job.id == job.id and seen.output is None
        cancelled = await rpc.call_method(SessionMethods.CANCEL_JOB,
                                          SessionJobRef(**who, job_id=job.id))
        assert cancelled.state == "cancelled"
        stale = await refused(rpc.call_method(SessionMethods.SAVE_CASE, SessionSaveCase(
            worker="s2", session_id=session.id, attempt=1, name="x", blob=BLOB)))
        assert stale.status == 409 and stale.code == "session_not_current"
