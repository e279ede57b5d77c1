"""The audit log: every change and refused sign-in says who, what, on what, when and from
where; admins page and filter it; nobody, the backend's own connection included, rewrites it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from backend_svc import audit
from backend_svc.policy import Action
from backend_svc.service import BackendService
from common.amqp import topology
from common.amqp.rpc import RpcClient
from common.contracts.admin import AuditEntry, HostLoad, HostRef, ListAudit
from common.contracts.base import Principal
from common.contracts.groups import CreateGroup, GroupMember
from common.contracts.jobs import WorkerReport
from common.contracts.methods import (
    ALL_METHODS,
    AdminMethods,
    GroupMethods,
    UserMethods,
    WorkerMethods,
)
from common.contracts.users import Authenticate, CreateUser
from common.errors import ModelportError
from tests.backend.conftest import backend, rpc  # noqa: F401
from tests.backend.helpers import make_user
from tests.support import db_state

BACKEND_METHODS = [m for m in ALL_METHODS if m.server == topology.BACKEND_RPC]
READ_RULES = {a.value for a in Action if a.value.endswith((".read", ".list", ".list_all"))}
PUBLIC_READS = {"system.ping", "auth.resolve",
                "apps.get_rights"}  # read under the rule that guards the rights' changes
ADMIN_IP = "198.51.100.7"
ATTACKER_IP = "203.0.113.9"


def test_every_backend_method_says_what_it_audits() -> None:
    """A new method fails here until it names its audit actions in ``audit.ACTIONS``; one
    that writes none must be a read (its rule reads) or a worker's report."""
    assert {m.name for m in BACKEND_METHODS} == set(audit.ACTIONS)
    for method in BACKEND_METHODS:
        written = audit.ACTIONS[method.name]
        if isinstance(written, str):
            assert (method.rule in READ_RULES or method.name in PUBLIC_READS
                    or method.rule == "worker"), f"{method.name} changes state, audits nothing"
        else:
            assert written, method.name


def test_every_audit_action_is_written_somewhere() -> None:
    """The table names actions the code writes: each one's literal, or its family's f-string
    (``f"job.{outcome}"``), is in backend_svc."""
    folder = Path(__file__).resolve().parents[2] / "backend_svc"
    source = "\n".join(p.read_text() for p in folder.rglob("*.py")
                       if p.name != "audit.py")
    for name, written in audit.ACTIONS.items():
        for action in () if isinstance(written, str) else written:
            family = action.split(".")[0]
            assert (f'"{action}"' in source
                    or re.search(rf'f"{family}\.\{{', source)), f"{name}: {action}"


async def _admin(rpc: RpcClient) -> Principal:  # noqa: F811
    root = await make_user(rpc, "root", is_admin=True)
    return root.model_copy(update={"client_ip": ADMIN_IP})


async def _everything(rpc: RpcClient, admin: Principal) -> list[AuditEntry]:  # noqa: F811
    entries: list[AuditEntry] = []
    before = None
    for _ in range(100):
        page = await rpc.call_method(AdminMethods.AUDIT, ListAudit(actor=admin, limit=2,
                                                                   before=before))
        entries += page.entries
        if page.next_before is None:
            return entries
        before = page.next_before
    raise AssertionError("paging never ended")


async def test_changes_and_refused_signins_are_audited_and_paged(
    backend: BackendService, rpc: RpcClient  # noqa: F811
) -> None:
    admin = await _admin(rpc)
    bob = await rpc.call_method(UserMethods.CREATE, CreateUser(
        actor=admin, username="bob", password="bob-password-1"))
    group = await rpc.call_method(GroupMethods.CREATE, CreateGroup(actor=admin, name="ops"))
    for method in (GroupMethods.ADD_MEMBER, GroupMethods.REMOVE_MEMBER):
        await rpc.call_method(method, GroupMember(actor=admin, group="ops", username="bob"))
    with pytest.raises(ModelportError):
        await rpc.call_method(UserMethods.LOGIN, Authenticate(
            username="bob", password="wrong", client_ip=ATTACKER_IP))
    await rpc.call_method(WorkerMethods.REPORT, WorkerReport(
        worker="w1", slots_total=2, slots_free=2, running=[],
        hosts=[HostLoad(name="h1", healthy=True, slots=2, used_slots=0, memory_mb=100,
                        used_memory_mb=0)]))
    await rpc.call_method(AdminMethods.DRAIN_HOST, HostRef(actor=admin, name="h1"))

    entries = await _everything(rpc, admin)
    ids = [e.id for e in entries]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    mine = [(e.action, e.actor_name, e.target, e.client_ip) for e in entries
            if e.client_ip in (ADMIN_IP, ATTACKER_IP)]
    assert mine == [
        ("host.drain", "root", "h1", ADMIN_IP),
        ("signin.refused", "bob", "bob", ATTACKER_IP),
        ("group.remove_member", "root", group.id, ADMIN_IP),
        ("group.add_member", "root", group.id, ADMIN_IP),
        ("group.create", "root", group.id, ADMIN_IP),
        ("user.create", "root", bob.id, ADMIN_IP),
    ]
    assert all(e.actor_id == admin.user_id for e in entries if e.client_ip == ADMIN_IP)

    async def filtered(**given: object) -> list[str]:
        page = await rpc.call_method(AdminMethods.AUDIT, ListAudit(actor=admin, **given))
        return [e.action for e in page.entries]

    assert await filtered(action="group.add_member") == ["group.add_member"]
    assert await filtered(actor_name="bob") == ["signin.refused"]
    assert await filtered(target=group.id) == [
        "group.remove_member", "group.add_member", "group.create"]
    now = datetime.now(UTC)
    assert await filtered(since=now + timedelta(hours=1)) == []
    assert await filtered(until=now - timedelta(hours=1)) == []
    assert len(await filtered(since=now - timedelta(hours=1), limit=200)) == len(entries)


async def test_only_admins_read_the_audit(
    backend: BackendService, rpc: RpcClient  # noqa: F811
) -> None:
    admin = await _admin(rpc)
    bob = await rpc.call_method(UserMethods.CREATE, CreateUser(
        actor=admin, username="bob", password="bob-password-1"))
    as_bob = Principal(user_id=bob.id, username="bob")
    with pytest.raises(ModelportError) as refused:
        await rpc.call_method(AdminMethods.AUDIT, ListAudit(actor=as_bob))
    assert (refused.value.status, refused.value.code) == (403, "forbidden")


async def test_the_backends_own_connection_cannot_rewrite_the_audit(
    backend: BackendService,  # noqa: F811
) -> None:
    """The test database is reached as a superuser (trust auth), the backend's pool too: the
    trigger refuses even that."""
    assert backend.pool is not None
    async with backend.pool.acquire() as conn:
        assert await conn.fetchval(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert await conn.fetchval("SELECT count(*) FROM audit_log") > 0  # the admin's
        before = await db_state.table_state(conn, "audit_log")
        for statement in ("UPDATE audit_log SET action = 'nothing'",
                          "DELETE FROM audit_log", "TRUNCATE audit_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(statement)
        assert await db_state.table_state(conn, "audit_log") == before
