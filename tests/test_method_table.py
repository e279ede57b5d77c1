"""The RPC method table: each method declared once, its rule known to the policy, and each
server serving exactly the methods declared for it."""

from __future__ import annotations

from typing import Any

import pytest

from backend_svc import policy
from backend_svc.service import rpc_handlers
from backend_svc.settings import BackendSettings
from common.amqp import topology
from common.amqp.rpc import RpcServer
from common.contracts.base import Principal
from common.contracts.jobs import JobRef
from common.contracts.method import Method
from common.contracts.methods import (
    ALL_METHODS,
    JobMethods,
    RegistryMethods,
    UserMethods,
    WorkerMethods,
)
from common.contracts.system import Ping, Pong
from common.contracts.users import ListUsers
from common.errors import Forbidden
from common.ping import serve_ping


def _declared_for(queue: str) -> set[str]:
    return {m.name for m in ALL_METHODS if m.server == queue}


def test_each_method_is_declared_once_per_server() -> None:
    keys = [(m.server, m.name) for m in ALL_METHODS]
    assert len(keys) == len(set(keys))


def test_every_rule_is_a_backend_policy_rule() -> None:
    unknown = {m.name: m.rule for m in ALL_METHODS if m.rule not in policy.RULES}
    assert unknown == {}


def test_backend_serves_exactly_what_is_declared_for_it() -> None:
    server = RpcServer(None, topology.BACKEND_RPC, prefetch=1)  # type: ignore[arg-type]
    settings = BackendSettings(database_url="postgresql://unused/x", amqp_url="amqp://unused/")
    serve_ping(server, "backend", "test")
    server.serve_all(*rpc_handlers(None, settings, None, lambda: None, None, None))  # type: ignore[arg-type]
    assert set(server.served) == _declared_for(topology.BACKEND_RPC)


@pytest.mark.parametrize("queue", [topology.SESSION_RPC, topology.SOLVE_RPC])
def test_workers_serve_what_is_declared_for_them(queue: str) -> None:
    server = RpcServer(None, queue, prefetch=1)  # type: ignore[arg-type]
    serve_ping(server, "worker", "test")
    assert set(server.served) == _declared_for(queue)


def test_a_method_served_on_another_queue_or_twice_is_refused() -> None:
    server = RpcServer(None, topology.SOLVE_RPC, prefetch=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="served on backend.rpc"):
        server.serve(UserMethods.LIST, _never)
    ping = Method("system.ping", Ping, Pong, topology.SOLVE_RPC, "public", "")
    server.serve(ping, _never)
    with pytest.raises(ValueError, match="served twice"):
        server.serve(ping, _never)


async def _never(request: Any) -> Any:
    raise AssertionError("not called")


def test_unknown_caller_role_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown caller roles"):
        Method("x.y", Ping, Pong, topology.BACKEND_RPC, "public", "", callers=("nobody",))


def test_guard_applies_resource_free_rules_and_leaves_resource_rules_to_handlers() -> None:
    user = Principal(user_id="u1", username="olga")
    anonymous = Principal(user_id=None, username="nobody")
    policy.guard(RegistryMethods.LIST_APPS, RegistryMethods.LIST_APPS.request(actor=user))
    with pytest.raises(Forbidden):  # signed_in
        policy.guard(RegistryMethods.LIST_APPS, RegistryMethods.LIST_APPS.request(actor=anonymous))
    with pytest.raises(Forbidden):  # admins only
        policy.guard(UserMethods.LIST, ListUsers(actor=user))
    policy.guard(UserMethods.LIST, ListUsers(actor=Principal.SYSTEM))
    # owner rules need the row: the handler decides (404 for a stranger), not the guard
    policy.guard(JobMethods.GET, JobRef(actor=anonymous, job_id="j"))
    report = WorkerMethods.REPORT.request(worker="w", slots_total=1, slots_free=1, running=[])
    policy.guard(WorkerMethods.REPORT, report)


def test_a_declaration_without_actor_for_an_actor_rule_is_refused() -> None:
    odd = Method("x.y", Ping, Pong, topology.BACKEND_RPC, "user.list", "")
    with pytest.raises(Forbidden, match="names no actor"):
        policy.guard(odd, Ping())


def test_portal_vouched_methods_are_for_the_portal_alone() -> None:
    vouched = [m for m in ALL_METHODS if m.rule == policy.PORTAL_VOUCHED]
    assert {m.name for m in vouched} >= {UserMethods.OIDC_SIGNIN.name}
    assert all(m.callers == ("portal",) for m in vouched)
