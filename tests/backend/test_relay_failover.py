"""The outbox relay across a broker restart: nothing written meanwhile is lost."""

from __future__ import annotations

import aio_pika

from backend_svc import db, users
from backend_svc.service import BackendService
from common.amqp import topology
from common.contracts.base import Principal
from tests.backend.conftest import backend_settings
from tests.support.rabbit_instance import RabbitInstance


async def _create_directly(dsn: str, names: list[str]) -> None:
    """Commit users (and so their outbox events) without going through the broker."""
    conn = await db.connect(dsn)
    try:
        for name in names:
            async with conn.transaction():
                await users.create_user(conn, Principal.SYSTEM, username=name,
                                        password_hash="not-a-hash")
    finally:
        await conn.close()


async def _declare_tap(url: str) -> None:
    """A durable queue bound to user events, so it keeps what arrives while we look away."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        await topology.declare_base(channel)
        queue = await channel.declare_queue("test.tap", durable=True,
                                            arguments={"x-queue-type": "quorum"})
        await queue.bind(topology.EVENTS, routing_key="modelport.user.created")


async def _collect_until(url: str, last: str, timeout_s: float = 60) -> list[dict[str, str]]:
    """Every event in the tap queue up to and including the user named ``last``."""
    import json

    seen: list[dict[str, str]] = []
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue("test.tap")
        async with queue.iterator(timeout=timeout_s) as messages:
            async for message in messages:
                await message.ack()
                event = json.loads(message.body)
                seen.append({"id": event["id"], "username": event["data"]["username"]})
                if event["data"]["username"] == last:
                    return seen
    raise AssertionError("unreachable")


async def test_relay_resumes_after_broker_restart_and_loses_nothing(
    own_broker: RabbitInstance, pg_dsn: str
) -> None:
    await _declare_tap(own_broker.url)
    backend = BackendService(backend_settings(pg_dsn, own_broker.url))
    await backend.start()
    try:
        await _create_directly(pg_dsn, ["before1", "before2"])
        own_broker.stop()
        await _create_directly(pg_dsn, ["during1", "during2", "during3"])
        own_broker.start()
        await _create_directly(pg_dsn, ["after1", "last"])
        seen = await _collect_until(own_broker.url, "last")
    finally:
        await backend.stop()
    unique = {e["id"]: e["username"] for e in seen}  # at-least-once: dedupe by event id
    expected = ["admin", "before1", "before2", "during1", "during2", "during3", "after1", "last"]
    assert sorted(unique.values()) == sorted(expected)
    assert list(dict.fromkeys(e["username"] for e in seen)) == expected  # in commit order


async def test_one_relay_leads_and_another_takes_over(pg_dsn: str, amqp_url: str) -> None:
    from tests.support.events import EventTap

    first = BackendService(backend_settings(pg_dsn, amqp_url))
    second = BackendService(backend_settings(pg_dsn, amqp_url))
    await first.start()
    await second.start()
    try:
        async with EventTap(amqp_url, "modelport.user.created") as tap:
            assert first.relay is not None and second.relay is not None
            await _create_directly(pg_dsn, ["one"])
            await tap.wait_for(lambda e: e["data"]["username"] == "one")
            assert [first.relay.leading, second.relay.leading].count(True) == 1
            leader, follower = (first, second) if first.relay.leading else (second, first)
            await leader.stop()
            await _create_directly(pg_dsn, ["two"])
            await tap.wait_for(lambda e: e["data"]["username"] == "two")
            assert follower.relay is not None and follower.relay.leading
        assert [e["data"]["username"] for e in tap.events].count("one") == 1
    finally:
        for service in (first, second):
            await service.stop()
