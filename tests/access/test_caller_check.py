"""The caller rules as pure logic (the broker-backed proof is test_broker_identities.py)."""

from __future__ import annotations

import re

import pytest

from common.amqp import broker_users
from common.amqp.identity import CallerCheck, owns_worker_name
from common.contracts.base import Principal
from common.contracts.jobs import JobStarted
from common.contracts.method import BACKEND, PORTAL, SESSION_WORKER, SOLVE_WORKER
from common.contracts.users import CreateUser
from common.errors import Forbidden

ROLES = {"p": PORTAL, "b": BACKEND, "s": SESSION_WORKER, "w": SOLVE_WORKER}
USER = Principal(user_id="1", username="alice")


def _create(actor: Principal) -> CreateUser:
    return CreateUser(actor=actor, username="eve", password="password-123")


def _code(check: CallerCheck, user: str, request: object,
          callers: tuple[str, ...] | None = None) -> str:
    with pytest.raises(Forbidden) as caught:
        check.check("m", callers, user, request)  # type: ignore[arg-type]
    return caught.value.code


def test_unset_roles_check_nothing() -> None:
    check = CallerCheck(None)
    assert not check.enforced
    caller = check.check("m", (SOLVE_WORKER,), "guest", _create(Principal.SYSTEM))
    assert (caller.user, caller.role) == ("guest", None)


def test_each_rule_has_its_code() -> None:
    check = CallerCheck(ROLES)
    assert _code(check, "nobody", _create(USER)) == "unknown_caller"
    assert _code(check, "p", _create(USER), (SOLVE_WORKER,)) == "caller_not_allowed"
    assert _code(check, "p", _create(Principal.SYSTEM)) == "system_actor_refused"
    assert _code(check, "w", _create(USER)) == "user_actor_refused"
    assert _code(check, "w", JobStarted(worker="w2", job_id="j", attempt=1)) == "worker_not_yours"
    assert check.check("b", None, "b", _create(Principal.SYSTEM)).role == BACKEND
    assert check.check("s", None, "s", _create(USER)).role == SESSION_WORKER
    assert check.check("w", (SOLVE_WORKER,), "w",
                       JobStarted(worker="w.host2", job_id="j", attempt=1)).role == SOLVE_WORKER


def test_worker_names_belong_to_their_user() -> None:
    assert owns_worker_name("mp-solve", "mp-solve") and owns_worker_name("mp-solve", "mp-solve.h1")
    assert not owns_worker_name("mp-solve", "mp-solve-b") and not owns_worker_name("mp-s", "x")


def test_integrator_permissions_cover_only_its_queues_and_the_events() -> None:
    p = broker_users.integrator_permissions("acme")
    assert re.match(p.configure, "integrator.acme.q") and not re.match(p.configure, "backend.rpc")
    assert not re.match(p.configure, "integrator.acmex.q")
    for exchange in ("modelport.commands", "modelport.events", "amq.default"):
        assert not re.match(p.write, exchange)
    assert re.match(p.read, "modelport.events") and not re.match(p.read, "modelport.commands")


def test_plan_makes_one_user_per_role_with_fresh_passwords() -> None:
    users = broker_users.plan("mp-", ["acme"])
    assert [u.name for u in users] == ["mp-portal", "mp-backend", "mp-session-worker",
                                       "mp-solve-worker", "mp-int-acme"]
    assert len({u.password for u in users}) == 5 and all(len(u.password) >= 24 for u in users)
    assert broker_users.roles_map(users)["mp-solve-worker"] == SOLVE_WORKER


async def test_password_checks_beyond_the_queue_are_shed_at_once() -> None:
    import asyncio

    from backend_svc.passwords import Busy, PasswordWork, hash_password

    work = PasswordWork(1, 0)
    try:
        stored = await hash_password("right-password")
        first = asyncio.create_task(work.verify(stored, "right-password"))
        await asyncio.sleep(0)  # let it take the only slot
        with pytest.raises(Busy):
            await work.verify(stored, "right-password")
        assert await first
        assert not await work.verify(stored, "wrong-password")  # the slot is free again
        assert not await work.verify(None, "anything")  # unknown user: checked, never true
    finally:
        work.close()
