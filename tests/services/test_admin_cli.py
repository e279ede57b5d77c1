"""``modelport admin create-user`` (= ``python -m backend_svc admin``) on a real database,
and the user it makes signing in through a real backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from common.amqp.rpc import RpcClient
from common.contracts.methods import UserMethods
from common.contracts.users import Authenticate
from tests.services.procs import ServiceProcess, run_cli
from tests.support.ports import free_port


@pytest.fixture
async def backend(amqp_url: str, pg_dsn: str) -> AsyncIterator[ServiceProcess]:
    env = {
        "MODELPORT_AMQP_URL": amqp_url,
        "MODELPORT_DATABASE_URL": pg_dsn,
        "MODELPORT_STATUS_PORT": "0",
    }
    process = ServiceProcess("backend_svc", env)
    await process.start()
    try:
        await process.wait_for_event("service_started", timeout_s=60)
        yield process
    finally:
        await process.kill()


def cli_env(pg_dsn: str, password: str = "s3cret-password") -> dict[str, str]:
    return {"MODELPORT_DATABASE_URL": pg_dsn, "MODELPORT_NEW_PASSWORD": password,
            "MODELPORT_AMQP_URL": f"amqp://nobody:nothing@127.0.0.1:{free_port()}/"}


async def test_create_user_then_duplicate(
    backend: ServiceProcess, pg_dsn: str, rpc_client: RpcClient
) -> None:
    env = cli_env(pg_dsn)
    created = await run_cli("admin", "create-user", "--display-name", "Alice A", "alice", env=env)
    assert created.code == 0, created.stderr
    assert "created user alice" in created.stdout
    login = await rpc_client.call_method(
        UserMethods.LOGIN, Authenticate(username="alice", password="s3cret-password"))
    assert (login.user.display_name, login.user.is_admin) == ("Alice A", False)

    again = await run_cli("admin", "create-user", "alice", env=env)
    assert again.code == 3
    assert "alice" in again.stderr and "exists" in again.stderr
    assert "s3cret-password" not in again.stderr + again.stdout


async def test_create_admin_writes_audit_and_event_in_one_go(pg_dsn: str) -> None:
    """No backend and no broker needed: the database is the authority."""
    result = await run_cli("admin", "create-user", "--admin", "root2", env=cli_env(pg_dsn))
    assert result.code == 0, result.stderr
    assert "created administrator root2" in result.stdout
    conn = await asyncpg.connect(pg_dsn)
    try:
        is_admin = await conn.fetchval("SELECT is_admin FROM users WHERE username = 'root2'")
        audited = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'user.create'")
        events = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE type = 'modelport.user.created'")
    finally:
        await conn.close()
    assert (is_admin, audited, events) == (True, 1, 1)


async def test_invalid_input_is_a_usage_error(pg_dsn: str) -> None:
    result = await run_cli("admin", "create-user", "Bad Name", env=cli_env(pg_dsn, "short"))
    assert result.code == 2
    assert "username" in result.stderr and "password" in result.stderr


async def test_unreachable_database_is_named_without_its_password() -> None:
    env = {
        **cli_env(f"postgresql://mp:hidden-pw@127.0.0.1:{free_port()}/nothing"),
        "MODELPORT_CONNECT_DEADLINE_S": "0.5",
    }
    result = await run_cli("admin", "create-user", "carol", env=env)
    assert result.code == 1
    assert "database" in result.stderr
    assert "hidden-pw" not in result.stderr + result.stdout
    assert "s3cret-password" not in result.stderr + result.stdout
