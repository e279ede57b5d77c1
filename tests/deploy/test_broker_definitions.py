"""The compose stack's broker users, on a real RabbitMQ (Debian's, as in the registry-free
broker image): the node imports the stack's ``definitions.json`` at boot (its
``rabbitmq.conf`` says so), so each service role logs in with its own generated password and
nothing else does — no ``guest``, no other role's password — and a role's least permissions
hold (modelport/devstack/secrets.py, common/amqp/broker_users.py)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import aiormq
import pytest
from yarl import URL

from modelport.devstack import secrets
from tests.support.rabbit_instance import RabbitInstance

pytestmark = pytest.mark.slow


@pytest.fixture
def stack_broker() -> Iterator[tuple[RabbitInstance, Path]]:
    if (why := RabbitInstance.missing()) is not None:
        pytest.fail(f"this test runs a RabbitMQ node of its own: {why}", pytrace=False)
    base = Path(tempfile.mkdtemp(prefix="mp-rabbit-"))  # the broker's user must enter it
    flat = base / "secrets"
    flat.mkdir()
    secrets.ensure({name: flat for name in secrets.FOLDERS}, {})
    node = base / "node"
    node.mkdir()
    shutil.copy(flat / "definitions.json", node / "definitions.json")
    conf = (flat / "rabbitmq.conf").read_text()
    (node / "rabbitmq.conf").write_text(
        conf.replace(secrets.DEFINITIONS_PATH, str(node / "definitions.json")))
    base.chmod(0o755)
    broker = RabbitInstance(node)
    broker.start()
    try:
        yield broker, flat
    finally:
        broker.stop()
        shutil.rmtree(base, ignore_errors=True)


def _url(broker: RabbitInstance, user: str, password: str) -> str:
    return str(URL(broker.url).with_user(user).with_password(password))


async def _login(url: str) -> bool:
    try:
        connection = await aio_pika.connect(url, timeout=20)
    except aio_pika.exceptions.ProbableAuthenticationError:
        return False
    await connection.close()
    return True


async def test_each_role_logs_in_with_its_own_password_and_nobody_else(
    stack_broker: tuple[RabbitInstance, Path],
) -> None:
    broker, flat = stack_broker
    own = {folder: (flat / secrets.broker_secret(folder)).read_text().strip()
           for folder in secrets.ROLE_OF_FOLDER}
    for folder, user in (("backend", "mp-backend"), ("portal", "mp-portal"),
                         ("session", "mp-session-worker"), ("solve", "mp-solve-worker")):
        assert await _login(_url(broker, user, own[folder])), user
    assert not await _login(_url(broker, "mp-portal", own["solve"]))
    assert not await _login(_url(broker, "guest", "guest"))
    admin = (flat / "amqp_password").read_text().strip()
    assert await _login(_url(broker, "modelport", admin))

    # Least permissions: the portal may not take backend's queue.
    connection = await aio_pika.connect(_url(broker, "mp-portal", own["portal"]), timeout=20)
    try:
        channel = await connection.channel()
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await channel.declare_queue("backend.rpc", durable=True)
    finally:
        await connection.close()
