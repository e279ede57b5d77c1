"""Broker identities against the real RabbitMQ and a real backend (docs/security.md).

Every role connects as its own broker user with least permissions; backend checks each
request's sender (the AMQP ``user_id``, validated by RabbitMQ) against the method's callers.
"""

from __future__ import annotations

import aio_pika
import aiormq
import pytest

from common.amqp import topology
from common.amqp.rpc import RpcClient
from common.contracts.base import Principal
from common.contracts.jobs import JobFinished, JobOut, JobRef
from common.contracts.method import BACKEND, PORTAL, SOLVE_WORKER
from common.contracts.methods import JobMethods, UserMethods, WorkerMethods
from common.contracts.users import CreateUser, UserOut
from common.errors import Forbidden
from tests.access.conftest import Identities, client_as
from tests.backend.helpers import add_runtime, make_user, publish, refused, snapshot
from tests.backend.jobs_support import FakeWorker, submit

B = topology.BACKEND_RPC
REFUSED = (aiormq.exceptions.ChannelAccessRefused, aiormq.exceptions.ChannelPreconditionFailed,
           aiormq.exceptions.ChannelInvalidStateError, aio_pika.exceptions.ChannelClosed)

CREATE, FINISHED, GET = UserMethods.CREATE.name, WorkerMethods.FINISHED.name, JobMethods.GET.name


def _create_admin(actor: Principal = Principal.SYSTEM) -> CreateUser:
    return CreateUser(actor=actor, username="mallory", password="password-123", is_admin=True)


async def _raw_publish(url: str, exchange: str, routing_key: str, body: bytes, method: str,
                       **properties: object) -> BaseException | None:
    """Publish one message with confirms; the error the broker answered with, or None."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        target = (channel.default_exchange if exchange == "" else
                  await channel.get_exchange(exchange, ensure=False))
        await target.publish(aio_pika.Message(body, type=method, **properties),  # type: ignore[arg-type]
                             routing_key=routing_key, timeout=5)
    except REFUSED as exc:
        return exc
    finally:
        await connection.close()
    return None


async def _users(dsn: str) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return [r["username"] for r in await conn.fetch("SELECT username FROM users ORDER BY 1")]
    finally:
        await conn.close()


async def _running_job(portal: RpcClient, system: RpcClient, worker: FakeWorker) -> tuple[
    Principal, JobOut
]:
    await add_runtime(portal, "1.0.0")
    await publish(portal, "transport", "1.0.0")
    alice = await make_user(system, "alice")
    job = await submit(portal, alice)
    await worker.report()
    await worker.run_of(job.id)
    assert await worker.started(job.id)
    return alice, job


async def test_integrator_cannot_publish_commands_or_worker_reports(
    identities: Identities, portal_rpc: RpcClient, pg_dsn: str
) -> None:
    before = await _users(pg_dsn)
    url = identities.url("integrator")
    body = _create_admin().model_dump_json().encode()
    for exchange, key, method in [(topology.COMMANDS, B, CREATE),
                                  ("", B, CREATE),
                                  ("", B, FINISHED),
                                  (topology.EVENTS, "modelport.user.created", "")]:
        error = await _raw_publish(url, exchange, key, body, method)
        assert isinstance(error, aiormq.exceptions.ChannelAccessRefused), (exchange, key, error)
        assert "access to exchange" in str(error) and "refused" in str(error)
    # What it may do: its own queue, bound to the events exchange; not to the commands.
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue("integrator.acme.events", auto_delete=True)
        await queue.bind(topology.EVENTS, routing_key="modelport.#")
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await queue.bind(topology.COMMANDS, routing_key=B)
        channel = await connection.channel()
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await channel.declare_queue(B + ".spy")
    finally:
        await connection.close()
    # The same request from the portal would have reached backend (and is refused there:
    # only backend acts as the system), so the broker was what stopped the integrator.
    error = await refused(portal_rpc.call(B, CREATE, _create_admin(), UserOut))
    assert error.code == "system_actor_refused"
    assert await _users(pg_dsn) == before == ["admin"]


async def test_forged_user_id_is_refused_by_rabbitmq(
    identities: Identities, portal_rpc: RpcClient, pg_dsn: str
) -> None:
    backend_user = identities.users[BACKEND].name
    error = await _raw_publish(identities.url(PORTAL), "", B,
                               _create_admin().model_dump_json().encode(), CREATE,
                               user_id=backend_user)
    assert isinstance(error, aiormq.exceptions.ChannelPreconditionFailed), error
    assert "user_id property set to" in str(error)
    # Its own name passes the broker; backend then holds the portal role to its rules.
    error = await refused(portal_rpc.call(B, CREATE, _create_admin(), UserOut))
    assert error.code == "system_actor_refused"
    admin = Principal(username="admin", is_admin=True)
    plain = _create_admin(admin).model_copy(update={"is_admin": False, "role": "user"})
    made = await portal_rpc.call(B, CREATE, plain, UserOut)
    assert made.username == "mallory" and not made.is_admin
    assert await _users(pg_dsn) == ["admin", "mallory"]


async def test_portal_calling_a_worker_method_is_refused_and_changes_nothing(
    identities: Identities, portal_rpc: RpcClient, system_rpc: RpcClient, pg_dsn: str
) -> None:
    worker_user = identities.users[SOLVE_WORKER].name
    async for worker_rpc in client_as(identities.url(SOLVE_WORKER)):
        async with FakeWorker(identities.url(SOLVE_WORKER), worker_rpc, worker_user) as worker:
            alice, job = await _running_job(portal_rpc, system_rpc, worker)
            before = await snapshot(pg_dsn)
            forged = JobFinished(worker=worker_user, job_id=job.id, attempt=1,
                                 outcome="succeeded")
            error = await refused(portal_rpc.call(B, FINISHED, forged, JobOut))
            assert isinstance(error, Forbidden) and error.code == "caller_not_allowed"
            assert error.message == (f"the portal role may not call {FINISHED} "
                                     "(allowed: solve_worker)")
            assert await snapshot(pg_dsn) == before
            got = await portal_rpc.call(B, GET, JobRef(actor=alice, job_id=job.id),
                                        JobOut)
            assert got.state == "running"
            # The worker itself may, which shows the refusal was the sender's role.
            assert await worker.finished(job.id)
    assert (await portal_rpc.call(B, GET, JobRef(actor=alice, job_id=job.id),
                                  JobOut)).state == "succeeded"


async def test_a_worker_cannot_finish_an_attempt_leased_to_another(
    identities: Identities, portal_rpc: RpcClient, system_rpc: RpcClient, pg_dsn: str
) -> None:
    a_user, b_user = identities.users[SOLVE_WORKER].name, identities.users["solve_b"].name
    async for a_rpc in client_as(identities.url(SOLVE_WORKER)):
        async for b_rpc in client_as(identities.url("solve_b")):
            async with FakeWorker(identities.url(SOLVE_WORKER), a_rpc, a_user) as a:
                alice, job = await _running_job(portal_rpc, system_rpc, a)
                before = await snapshot(pg_dsn)
                # B naming A: refused by backend (the name belongs to another broker user).
                as_a = JobFinished(worker=a_user, job_id=job.id, attempt=1, outcome="failed")
                error = await refused(b_rpc.call(B, FINISHED, as_a, JobOut))
                assert error.code == "worker_not_yours"
                assert a_user in error.message and b_user in error.message
                # B under its own name: not its attempt, so stale and ignored.
                async with FakeWorker(identities.url("solve_b"), b_rpc, b_user) as b:
                    assert not await b.finished(job.id, outcome="failed")
                assert await snapshot(pg_dsn) == before
                got = await portal_rpc.call(B, GET,
                                            JobRef(actor=alice, job_id=job.id), JobOut)
                assert got.state == "running" and got.worker == a_user
