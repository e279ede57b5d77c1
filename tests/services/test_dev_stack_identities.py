"""``modelport dev up`` runs each service as its own broker user with caller checks on
(docs/security.md, modelport/devstack/broker.py): the platform works through every service,
and a service's credentials used for another role's method are refused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import aio_pika
import aiohttp
import pytest
from yarl import URL

from common.amqp.connection import connect
from common.amqp.rpc import RpcClient
from common.contracts.base import Principal
from common.contracts.jobs import WorkerReport
from common.contracts.methods import UserMethods, WorkerMethods
from common.contracts.system import PING_ON, Ping
from common.contracts.users import ListUsers
from common.errors import Forbidden, ModelportError
from modelport.devstack.broker import FILE, prefix_for
from tests.services.procs import run_cli
from tests.services.test_dev_stack import ADMIN, stack_env, state_dir  # noqa: F401 (fixture)
from tests.support import infra

pytestmark = pytest.mark.slow


def _credentials(state: Path) -> tuple[dict[str, str], dict[str, str]]:
    lines = dict(line.split("=", 1) for line in (state / FILE).read_text().splitlines())
    roles = json.loads(lines.pop("MODELPORT_BROKER_ROLES"))
    return lines, roles


def _url(amqp_url: str, user: str, password: str) -> str:
    return str(URL(amqp_url).with_user(user).with_password(password))


async def _call(url: str, method: object, request: object) -> object:
    connection = await connect(url, deadline_s=10, name="test-client")
    client = RpcClient(connection, timeout_s=20)
    await client.start()
    try:
        return await client.call_method(method, request)  # type: ignore[arg-type]
    except ModelportError as exc:
        return exc
    finally:
        await client.stop()
        await connection.close()


def _broker_users() -> set[str]:
    done = subprocess.run([infra.RABBITMQCTL, "-q", "list_users", "--no-table-headers"],
                          check=True, capture_output=True, text=True, timeout=60)
    return {line.split("\t")[0] for line in done.stdout.splitlines() if line.strip()}


async def test_every_service_runs_as_its_own_broker_user(
    amqp_url: str, pg_dsn: str, state_dir: Path  # noqa: F811
) -> None:
    env = stack_env(amqp_url, pg_dsn)
    args = ("dev", "up", "--detach", "--free-ports", "--state-dir", str(state_dir))
    up = await run_cli(*args, env=env, timeout_s=180)
    assert up.code == 0, up.stderr
    assert (state_dir / FILE).stat().st_mode & 0o777 == 0o600
    passwords, roles = _credentials(state_dir)
    prefix = prefix_for(state_dir)
    assert roles == {f"{prefix}portal": "portal", f"{prefix}backend": "backend",
                     f"{prefix}session-worker": "session_worker",
                     f"{prefix}solve-worker": "solve_worker"}
    assert all(len(p) >= 32 and p != "guest" for p in passwords.values())
    logs = {name: (state_dir / "logs" / f"{name}.log").read_text()
            for name in ("backend", "session", "solve", "portal")}
    assert not [n for n, text in logs.items() if "broker_roles_unset" in text]

    # The browser's path: portal → backend, as the portal's user, checked by backend.
    portal_url = up.stdout.strip()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{portal_url}/api/v1/auth/login", json=ADMIN) as response:
            assert response.status == 200, await response.text()

    # Every service answers through the broker under the role users.
    for role, queue in (("portal", "backend.rpc"), ("session-worker", "session.rpc"),
                        ("solve-worker", "solve.rpc"), ("backend", "solve.rpc")):
        name = f"{prefix}{role}"
        pong = await _call(_url(amqp_url, name, passwords[name]), PING_ON[queue], Ping())
        assert not isinstance(pong, ModelportError), (role, queue, pong)

    # Another role's method with a service's credentials: refused by backend.
    solve = f"{prefix}solve-worker"
    as_solve = _url(amqp_url, solve, passwords[solve])
    error = await _call(as_solve, UserMethods.LIST,
                        ListUsers(actor=Principal(user_id=None, username="admin", is_admin=True)))
    assert isinstance(error, Forbidden) and error.code == "caller_not_allowed"
    portal = f"{prefix}portal"
    error = await _call(_url(amqp_url, portal, passwords[portal]), WorkerMethods.REPORT,
                        WorkerReport(worker=portal, slots_total=1, slots_free=1, running=[]))
    assert isinstance(error, Forbidden) and error.code == "caller_not_allowed"
    # A user name with another user's password: the broker refuses the connection.
    with pytest.raises(aio_pika.exceptions.ProbableAuthenticationError):
        await aio_pika.connect(_url(amqp_url, portal, passwords[solve]), timeout=10)

    down = await run_cli("dev", "down", "--state-dir", str(state_dir), env=env, timeout_s=90)
    assert down.code == 0, down.stderr
    assert not (state_dir / FILE).exists()
    assert not set(roles) & _broker_users()

