"""``modelport admin create-user`` against a real backend process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from common.amqp.rpc import RpcClient
from common.contracts.users import Authenticate, UserMethods
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


def cli_env(amqp_url: str, password: str = "s3cret-password") -> dict[str, str]:
    return {"MODELPORT_AMQP_URL": amqp_url, "MODELPORT_NEW_PASSWORD": password}


async def test_create_user_then_duplicate(
    backend: ServiceProcess, amqp_url: str, rpc_client: RpcClient
) -> None:
    env = cli_env(amqp_url)
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


async def test_create_admin(backend: ServiceProcess, amqp_url: str) -> None:
    result = await run_cli("admin", "create-user", "--admin", "root2", env=cli_env(amqp_url))
    assert result.code == 0, result.stderr
    assert "created administrator root2" in result.stdout


async def test_invalid_input_is_a_usage_error(amqp_url: str) -> None:
    result = await run_cli("admin", "create-user", "Bad Name", env=cli_env(amqp_url, "short"))
    assert result.code == 2
    assert "username" in result.stderr and "password" in result.stderr


async def test_no_backend_fails_fast_and_clearly(amqp_url: str) -> None:
    result = await run_cli("admin", "create-user", "carol", env=cli_env(amqp_url))
    assert result.code == 1
    assert "no backend" in result.stderr
    assert "s3cret-password" not in result.stderr


async def test_unreachable_broker_is_named_without_its_password() -> None:
    env = {
        **cli_env(f"amqp://guest:hidden@127.0.0.1:{free_port()}/"),
        "MODELPORT_CONNECT_DEADLINE_S": "0.5",
    }
    result = await run_cli("admin", "create-user", "carol", env=env)
    assert result.code == 1
    assert "cannot reach RabbitMQ at amqp://guest:***@127.0.0.1" in result.stderr
    assert "hidden" not in result.stderr
    assert result.stdout == ""
