"""Groups over RPC against a real backend: create, members, list, policy, events."""

from __future__ import annotations

import pytest

from backend_svc.service import BackendService
from common.amqp.rpc import RpcClient
from common.contracts.base import Principal
from common.contracts.groups import CreateGroup, GroupMember, GroupOut, ListGroups
from common.contracts.methods import GroupMethods
from tests.backend.helpers import ADMIN, make_user, refused, snapshot
from tests.support.events import EventTap

G = GroupMethods


async def _create(rpc: RpcClient, name: str, actor: Principal = ADMIN) -> GroupOut:
    return await rpc.call_method(G.CREATE, CreateGroup(actor=actor, name=name))


async def _member(rpc: RpcClient, method: str, group: str, username: str,
                  actor: Principal = ADMIN) -> GroupOut:
    return await rpc.call_method(method, GroupMember(actor=actor, group=group, username=username))


async def _list(rpc: RpcClient, actor: Principal) -> list[str]:
    listed = await rpc.call_method(G.LIST, ListGroups(actor=actor))
    return [g.name for g in listed.groups]


async def test_create_add_remove_with_events(
    backend: BackendService, rpc: RpcClient, amqp_url: str
) -> None:
    await make_user(rpc, "mona")
    await make_user(rpc, "alex")
    async with EventTap(amqp_url, "modelport.group.*") as tap:
        created = await _create(rpc, "team")
        await _member(rpc, G.ADD_MEMBER, "team", "mona")
        both = await _member(rpc, G.ADD_MEMBER, "team", "alex")
        again = await _member(rpc, G.ADD_MEMBER, "team", "alex")  # already in: no change
        left = await _member(rpc, G.REMOVE_MEMBER, "team", "mona")
        await tap.wait_for(lambda e: e["type"] == "modelport.group.member_removed")
    assert (created.members, both.members, again.members, left.members) == (
        [], ["alex", "mona"], ["alex", "mona"], ["alex"])
    assert [(e["type"].rsplit(".", 1)[1], e["data"]["username"]) for e in tap.events] == [
        ("created", None), ("member_added", "mona"), ("member_added", "alex"),
        ("member_removed", "mona")]
    assert {e["subject"] for e in tap.events} == {created.id}


async def test_duplicate_group_is_409(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    await _create(rpc, "team")
    before = await snapshot(pg_dsn)
    error = await refused(_create(rpc, "team"))
    assert (error.status, error.code) == (409, "group_exists")
    assert await snapshot(pg_dsn) == before


@pytest.mark.parametrize("method", [G.ADD_MEMBER, G.REMOVE_MEMBER])
async def test_unknown_group_or_user_is_404(
    backend: BackendService, rpc: RpcClient, pg_dsn: str, method: str
) -> None:
    await _create(rpc, "team")
    await make_user(rpc, "mona")
    before = await snapshot(pg_dsn)
    for group, username, code in (("nobody", "mona", "unknown_group"),
                                  ("team", "ghost", "unknown_user")):
        error = await refused(_member(rpc, method, group, username))
        assert (error.status, error.code) == (404, code)
    assert await snapshot(pg_dsn) == before


async def test_users_may_not_manage_groups(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    await _create(rpc, "team")
    user = await make_user(rpc, "mona")
    before = await snapshot(pg_dsn)
    for call in (_create(rpc, "mine", actor=user),
                 _member(rpc, G.ADD_MEMBER, "team", "mona", actor=user),
                 _member(rpc, G.REMOVE_MEMBER, "team", "mona", actor=user)):
        error = await refused(call)
        assert (error.status, error.code) == (403, "forbidden")
    assert await snapshot(pg_dsn) == before


async def test_admins_list_all_users_their_own(backend: BackendService, rpc: RpcClient) -> None:
    mona = await make_user(rpc, "mona")
    alex = await make_user(rpc, "alex")
    for name in ("ops", "team", "empty"):
        await _create(rpc, name)
    await _member(rpc, G.ADD_MEMBER, "team", "mona")
    await _member(rpc, G.ADD_MEMBER, "ops", "mona")
    assert await _list(rpc, ADMIN) == ["empty", "ops", "team"]
    assert await _list(rpc, mona) == ["ops", "team"]
    assert await _list(rpc, alex) == []
