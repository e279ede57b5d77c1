"""Docker hosts in backend: load from solve and session worker heartbeats, the drain an admin
sets (answered to every worker on the host, new ones too), refusals that change nothing."""

from __future__ import annotations

import asyncpg
import pytest

from backend_svc.service import BackendService
from common.amqp.rpc import RpcClient
from common.contracts.admin import HostLoad, HostRef, ListHosts
from common.contracts.base import Principal
from common.contracts.jobs import WorkerReport
from common.contracts.methods import AdminMethods, SessionMethods, UserMethods, WorkerMethods
from common.contracts.sessions import SessionWorkerReport
from common.contracts.users import CreateUser
from common.errors import ModelportError
from tests.backend.helpers import make_user
from tests.support import db_state

HOST_TABLES = ["docker_hosts", "docker_host_reports", "audit_log"]


def _load(name: str, used: int = 0, zone: str = "a") -> HostLoad:
    return HostLoad(name=name, zone=zone, healthy=True, slots=4, used_slots=used,
                    memory_mb=8000, used_memory_mb=used * 100)


async def _solve_report(rpc: RpcClient, worker: str, *hosts: HostLoad) -> list[str]:
    reply = await rpc.call_method(WorkerMethods.REPORT, WorkerReport(
        worker=worker, slots_total=4, slots_free=4, running=[], hosts=list(hosts)))
    return list(reply.drained)


async def _session_report(rpc: RpcClient, worker: str, *hosts: HostLoad) -> list[str]:
    reply = await rpc.call_method(SessionMethods.REPORT, SessionWorkerReport(
        worker=worker, sessions=[], hosts=list(hosts)))
    return list(reply.drained)


async def test_drain_reaches_every_worker_of_the_host_and_return_lifts_it(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    admin = await make_user(rpc, "root", is_admin=True)
    assert await _solve_report(rpc, "solve-1", _load("h1", 1), _load("h2", zone="b")) == []
    assert await _session_report(rpc, "session-1", _load("h1", 3)) == []

    drained = await rpc.call_method(AdminMethods.DRAIN_HOST, HostRef(actor=admin, name="h1"))
    assert (drained.drained, drained.drained_by, drained.workers) == (
        True, "root", ["session-1", "solve-1"])
    assert (drained.used_slots, drained.slots, drained.zone) == (3, 4, "a")
    assert await _solve_report(rpc, "solve-1", _load("h1"), _load("h2", zone="b")) == ["h1"]
    assert await _session_report(rpc, "session-1", _load("h1")) == ["h1"]
    assert await _solve_report(rpc, "solve-new") == ["h1"]  # a worker started later
    again = await rpc.call_method(AdminMethods.DRAIN_HOST, HostRef(actor=admin, name="h1"))
    assert again.drained

    hosts = await rpc.call_method(AdminMethods.HOSTS, ListHosts(actor=admin))
    assert [(h.name, h.drained, h.zone) for h in hosts.hosts] == [
        ("h1", True, "a"), ("h2", False, "b")]

    back = await rpc.call_method(AdminMethods.RETURN_HOST, HostRef(actor=admin, name="h1"))
    assert (back.drained, back.drained_by, back.drained_at) == (False, None, None)
    assert await _session_report(rpc, "session-1", _load("h1")) == []
    conn = await asyncpg.connect(pg_dsn)
    try:
        actions = [r["action"] for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE subject = 'h1' ORDER BY id")]
    finally:
        await conn.close()
    assert actions == ["host.drain", "host.return"]  # the repeated drain changed nothing


async def test_unknown_host_and_non_admin_are_refused_and_change_nothing(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    admin = await make_user(rpc, "root", is_admin=True)
    await _solve_report(rpc, "solve-1", _load("h1"))
    bob = await rpc.call_method(UserMethods.CREATE, CreateUser(
        actor=admin, username="bob", password="bob-password-1"))
    as_bob = Principal(user_id=bob.id, username="bob")
    conn = await asyncpg.connect(pg_dsn)
    try:
        before = await db_state.tables(conn, HOST_TABLES)
        with pytest.raises(ModelportError) as unknown:
            await rpc.call_method(AdminMethods.DRAIN_HOST, HostRef(actor=admin, name="nope"))
        assert (unknown.value.status, unknown.value.code) == (404, "not_found")
        for method in (AdminMethods.DRAIN_HOST, AdminMethods.RETURN_HOST):
            with pytest.raises(ModelportError) as refused:
                await rpc.call_method(method, HostRef(actor=as_bob, name="h1"))
            assert (refused.value.status, refused.value.code) == (403, "forbidden")
        with pytest.raises(ModelportError) as listing:
            await rpc.call_method(AdminMethods.HOSTS, ListHosts(actor=as_bob))
        assert listing.value.status == 403
        assert await db_state.tables(conn, HOST_TABLES) == before
    finally:
        await conn.close()
