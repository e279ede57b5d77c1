"""Users over RPC against a real backend: create, login, tokens, policy, events."""

from __future__ import annotations

import asyncpg
import pytest

from backend_svc import db, users
from backend_svc.service import BackendService
from common.amqp import topology
from common.amqp.rpc import RpcClient
from common.contracts.base import Principal
from common.contracts.methods import UserMethods
from common.contracts.system import PING_ON, Ping
from common.contracts.users import (
    Authenticate,
    CreateUser,
    ListUsers,
    ResolveToken,
    RevokeToken,
    UserOut,
)
from common.errors import ModelportError
from tests.backend.conftest import ADMIN_PASSWORD
from tests.support.events import EventTap

B = topology.BACKEND_RPC


async def _create(rpc: RpcClient, name: str, actor: Principal = Principal.SYSTEM,
                  **extra: object) -> UserOut:
    request = CreateUser(actor=actor, username=name, password="password-123", **extra)
    return await rpc.call_method(UserMethods.CREATE, request)


async def _counts(dsn: str) -> tuple[int, int, int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        return tuple(  # type: ignore[return-value]
            [await conn.fetchval(f"SELECT count(*) FROM {t}")
             for t in ("users", "api_tokens", "outbox", "audit_log")]
        )
    finally:
        await conn.close()


async def test_ping(backend: BackendService, rpc: RpcClient) -> None:
    pong = await rpc.call_method(PING_ON[B], Ping())
    assert pong.service == "backend"


async def test_create_user_commits_and_publishes_exactly_one_event(
    backend: BackendService, rpc: RpcClient, amqp_url: str
) -> None:
    async with EventTap(amqp_url, "modelport.user.*") as tap:
        alice = await _create(rpc, "alice", display_name="Alice A.")
        sentinel = await _create(rpc, "sentinel")
        # The relay publishes in commit order: once the sentinel is here, a duplicate of
        # alice's event would have arrived before it.
        await tap.wait_for(lambda e: e["subject"] == sentinel.id)
    created = [e for e in tap.of_type("modelport.user.created") if e["subject"] == alice.id]
    assert len(created) == 1
    event = created[0]
    assert event["specversion"] == "1.0" and event["_routing_key"] == "modelport.user.created"
    assert event["data"] == {"v": 1, "user_id": alice.id, "username": "alice", "is_admin": False,
                             "role": "user"}
    assert alice.display_name == "Alice A."


async def test_rolled_back_creation_publishes_nothing(
    backend: BackendService, rpc: RpcClient, amqp_url: str, pg_dsn: str
) -> None:
    async with EventTap(amqp_url, "modelport.user.*") as tap:
        conn = await db.connect(pg_dsn)
        try:
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    await users.create_user(conn, Principal.SYSTEM, username="ghost",
                                            password_hash="not-a-hash")
                    raise RuntimeError("forced rollback")
        finally:
            await conn.close()
        sentinel = await _create(rpc, "sentinel")
        await tap.wait_for(lambda e: e["subject"] == sentinel.id)
    assert [e["data"]["username"] for e in tap.of_type("modelport.user.created")] == ["sentinel"]


async def test_bootstrap_admin_exists_and_logs_in(backend: BackendService, rpc: RpcClient) -> None:
    issued = await rpc.call_method(
        UserMethods.LOGIN, Authenticate(username="admin", password=ADMIN_PASSWORD))
    assert issued.user.is_admin and issued.token.get_secret_value().startswith("mp_")
    me = await rpc.call_method(UserMethods.RESOLVE_TOKEN, ResolveToken(token=issued.token))
    assert me.username == "admin"


async def test_bootstrap_twice_keeps_one_admin(pg_dsn: str, amqp_url: str) -> None:
    from tests.backend.conftest import backend_settings

    for _ in range(2):
        service = BackendService(backend_settings(pg_dsn, amqp_url))
        await service.start()
        await service.stop()
    assert (await _counts(pg_dsn))[0] == 1


async def test_revoked_token_no_longer_resolves(backend: BackendService, rpc: RpcClient) -> None:
    await _create(rpc, "bob")
    issued = await rpc.call_method(
        UserMethods.LOGIN, Authenticate(username="bob", password="password-123"))
    await rpc.call_method(UserMethods.REVOKE_TOKEN, RevokeToken(token=issued.token))
    with pytest.raises(ModelportError) as caught:
        await rpc.call_method(UserMethods.RESOLVE_TOKEN, ResolveToken(token=issued.token))
    assert (caught.value.status, caught.value.code) == (401, "invalid_token")


@pytest.mark.parametrize("username,password", [("admin", "wrong-password"), ("nobody", "x")])
async def test_bad_login_is_401_and_changes_nothing(
    backend: BackendService, rpc: RpcClient, pg_dsn: str, username: str, password: str
) -> None:
    before = await _counts(pg_dsn)
    with pytest.raises(ModelportError) as caught:
        await rpc.call_method(UserMethods.LOGIN, Authenticate(username=username, password=password))
    assert (caught.value.status, caught.value.message) == (401, "wrong username or password")
    users, tokens, outbox, audit = before  # only the refusal's audit row (docs/security.md)
    assert await _counts(pg_dsn) == (users, tokens, outbox, audit + 1)


async def test_duplicate_user_is_409_and_changes_nothing(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    await _create(rpc, "carol")
    before = await _counts(pg_dsn)
    with pytest.raises(ModelportError) as caught:
        await _create(rpc, "carol")
    assert (caught.value.status, caught.value.code) == (409, "user_exists")
    assert await _counts(pg_dsn) == before


async def test_policy_user_may_not_create_or_list(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    dave = await _create(rpc, "dave")
    actor = users.principal_of(dave)
    before = await _counts(pg_dsn)
    for call in (_create(rpc, "eve", actor=actor),
                 rpc.call_method(UserMethods.LIST, ListUsers(actor=actor))):
        with pytest.raises(ModelportError) as caught:
            await call
        assert caught.value.status == 403
    assert await _counts(pg_dsn) == before


async def test_admin_lists_users(backend: BackendService, rpc: RpcClient) -> None:
    await _create(rpc, "frank")
    admin = Principal(user_id=None, username="admin", is_admin=True)
    listed = await rpc.call_method(UserMethods.LIST, ListUsers(actor=admin))
    assert [u.username for u in listed.users] == ["admin", "frank"] and listed.total == 2


async def test_invalid_username_names_the_field(backend: BackendService, rpc: RpcClient) -> None:
    from pydantic import BaseModel

    class Raw(BaseModel):
        actor: dict[str, object]
        username: str
        password: str

    with pytest.raises(ModelportError) as caught:
        await rpc.call_method(
            UserMethods.CREATE,
            Raw(actor={"system": True}, username="Bad Name!", password="password-123"))
    assert caught.value.status == 400 and "username" in caught.value.message
