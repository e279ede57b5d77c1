"""Cases over RPC against a real backend: register, list, visibility, rename, share, delete."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from backend_svc.service import BackendService
from common.amqp.rpc import RpcClient
from common.contracts.base import Principal
from common.contracts.cases import (
    CaseList,
    CaseLocation,
    CaseOut,
    CaseRef,
    ListCases,
    RegisterCase,
    RenameCase,
    ShareCase,
)
from common.contracts.groups import CreateGroup, GroupMember
from common.contracts.methods import CaseMethods, GroupMethods
from tests.backend.helpers import (
    ADMIN,
    SHA,
    add_runtime,
    insert_work,
    make_user,
    publish,
    refused,
    snapshot,
)
from tests.support.events import EventTap

C = CaseMethods


@dataclass
class World:
    owner: Principal
    member: Principal  # of the group the case is shared with
    stranger: Principal
    admin: Principal
    case: CaseOut


async def _register(rpc: RpcClient, actor: Principal, name: str = "base", *,
                    app: str = "transport", version: str | None = None,
                    case_id: str | None = None) -> CaseOut:
    request = RegisterCase(actor=actor, case_id=case_id or str(uuid.uuid4()), app=app,
                           app_version=version, name=name, s3_key=f"cases/{name}", sha256=SHA,
                           size_bytes=42)
    return await rpc.call_method(C.REGISTER, request)


async def _share(rpc: RpcClient, actor: Principal, case_id: str, group: str | None) -> CaseOut:
    return await rpc.call_method(C.SHARE, ShareCase(actor=actor, case_id=case_id, group=group))


async def _list(rpc: RpcClient, actor: Principal, **extra: object) -> CaseList:
    return await rpc.call_method(C.LIST, ListCases(actor=actor, **extra))


@pytest.fixture
async def world(backend: BackendService, rpc: RpcClient) -> World:
    await add_runtime(rpc, "1.0.0")
    await publish(rpc, "transport", "1.0.0")
    users = [await make_user(rpc, n) for n in ("olga", "mona", "stan")]
    admin = await make_user(rpc, "root", is_admin=True)
    await rpc.call_method(GroupMethods.CREATE, CreateGroup(actor=ADMIN, name="team"))
    for member in ("olga", "mona"):  # a case is shared only with a group its owner is in
        await rpc.call_method(
            GroupMethods.ADD_MEMBER, GroupMember(actor=ADMIN, group="team", username=member))
    case = await _register(rpc, users[0], version="1.0.0")
    case = await _share(rpc, users[0], case.id, "team")
    return World(*users, admin, case)


async def test_register_publishes_created(
    backend: BackendService, rpc: RpcClient, amqp_url: str
) -> None:
    await add_runtime(rpc, "1.0.0")
    await publish(rpc, "transport", "1.0.0")
    owner = await make_user(rpc, "olga")
    async with EventTap(amqp_url, "modelport.case.*") as tap:
        case = await _register(rpc, owner, version="1.0.0")
        await tap.wait_for(lambda e: e["subject"] == case.id)
    assert (case.owner, case.app, case.app_version, case.shared_group) == (
        "olga", "transport", "1.0.0", None)
    assert tap.events[0]["type"] == "modelport.case.created"
    assert tap.events[0]["data"] == {"v": 1, "case_id": case.id, "app": "transport",
                                     "owner": "olga", "extra": {}, "groups": []}


@pytest.mark.parametrize("app,version,case_id,status,code", [
    ("nothing", None, None, 404, "unknown_app"),
    ("transport", "9.9.9", None, 400, "unknown_app_version"),
    ("transport", None, "not-a-uuid", 400, "invalid_case_id"),
])
async def test_bad_registration_changes_nothing(
    world: World, rpc: RpcClient, pg_dsn: str, app: str, version: str | None,
    case_id: str | None, status: int, code: str,
) -> None:
    before = await snapshot(pg_dsn)
    error = await refused(_register(rpc, world.owner, app=app, version=version,
                                    case_id=case_id))
    assert (error.status, error.code) == (status, code)
    assert await snapshot(pg_dsn) == before


async def test_duplicate_case_id_is_409(world: World, rpc: RpcClient, pg_dsn: str) -> None:
    before = await snapshot(pg_dsn)
    error = await refused(_register(rpc, world.stranger, case_id=world.case.id))
    assert (error.status, error.code) == (409, "duplicate_case")
    assert await snapshot(pg_dsn) == before


async def test_get_visibility(world: World, rpc: RpcClient) -> None:
    for actor in (world.owner, world.member, world.admin):
        location = await rpc.call_method(C.GET, CaseRef(actor=actor, case_id=world.case.id))
        assert (location.case, location.s3_key) == (world.case, "cases/base")
    for case_id in (world.case.id, str(uuid.uuid4()), "not-a-uuid"):
        error = await refused(rpc.call_method(
            C.GET, CaseRef(actor=world.stranger, case_id=case_id)))
        assert (error.status, error.code, error.message) == (404, "not_found", "case not found")


async def test_list_shows_own_and_shared_cases(world: World, rpc: RpcClient) -> None:
    await publish(rpc, "facility", "1.0.0")
    own = await _register(rpc, world.member, "mine")
    other = await _register(rpc, world.member, "elsewhere", app="facility")
    await _register(rpc, world.stranger, "private")
    listed = await _list(rpc, world.member)
    assert [c.name for c in listed.cases] == ["elsewhere", "mine", "base"]
    assert listed.total == 3
    assert [c.id for c in (await _list(rpc, world.member, app="transport")).cases] == [
        own.id, world.case.id]
    page = await _list(rpc, world.member, limit=1, offset=1)
    assert ([c.id for c in page.cases], page.total) == ([own.id], 3)
    assert [c.id for c in (await _list(rpc, world.owner)).cases] == [world.case.id]
    assert (await _list(rpc, world.admin)).total == 0  # admins list their own too
    assert other.app == "facility"


async def test_rename_by_role(world: World, rpc: RpcClient, pg_dsn: str) -> None:
    def rename(actor: Principal, case_id: str, name: str) -> object:
        return rpc.call_method(C.RENAME, RenameCase(actor=actor, case_id=case_id, name=name))

    before = await snapshot(pg_dsn)
    for actor, case_id, status in ((world.member, world.case.id, 403),
                                   (world.stranger, world.case.id, 404),
                                   (world.owner, "not-a-uuid", 404)):
        assert (await refused(rename(actor, case_id, "x"))).status == status
    assert await snapshot(pg_dsn) == before
    assert (await rename(world.owner, world.case.id, "by owner")).name == "by owner"
    assert (await rename(world.admin, world.case.id, "by admin")).name == "by admin"


async def test_share_and_unshare(
    world: World, rpc: RpcClient, pg_dsn: str, amqp_url: str
) -> None:
    before = await snapshot(pg_dsn)
    for actor, group, status, code in ((world.owner, "nobody", 404, "unknown_group"),
                                       (world.member, None, 403, "forbidden"),
                                       (world.stranger, None, 404, "not_found")):
        error = await refused(_share(rpc, actor, world.case.id, group))
        assert (error.status, error.code) == (status, code)
    assert await snapshot(pg_dsn) == before
    async with EventTap(amqp_url, "modelport.case.*") as tap:
        unshared = await _share(rpc, world.admin, world.case.id, None)
        await tap.wait_for(lambda e: e["subject"] == world.case.id)
    assert unshared.shared_group is None
    assert tap.events[0]["type"] == "modelport.case.updated"
    assert tap.events[0]["data"]["extra"] == {"shared_group": None}
    assert tap.events[0]["data"]["groups"] == ["team"]  # its members' lists changed
    error = await refused(rpc.call_method(
        C.GET, CaseRef(actor=world.member, case_id=world.case.id)))
    assert error.status == 404  # no longer shared: hidden again


async def test_shared_only_with_the_owners_groups_while_the_owner_is_in_them(
    world: World, rpc: RpcClient, pg_dsn: str
) -> None:
    await rpc.call_method(GroupMethods.CREATE, CreateGroup(actor=ADMIN, name="far"))
    await rpc.call_method(
        GroupMethods.ADD_MEMBER, GroupMember(actor=ADMIN, group="far", username="stan"))
    before = await snapshot(pg_dsn)
    for actor, status, code in ((world.owner, 404, "unknown_group"),
                                (world.admin, 409, "owner_not_member")):
        error = await refused(_share(rpc, actor, world.case.id, "far"))
        assert (error.status, error.code) == (status, code)
    assert await snapshot(pg_dsn) == before
    await rpc.call_method(
        GroupMethods.REMOVE_MEMBER, GroupMember(actor=ADMIN, group="team", username="olga"))
    error = await refused(rpc.call_method(
        C.GET, CaseRef(actor=world.member, case_id=world.case.id)))
    assert error.status == 404  # the owner left the group: no longer shared with it
    assert [c.name for c in (await _list(rpc, world.member)).cases] == []
    await rpc.call_method(
        GroupMethods.ADD_MEMBER, GroupMember(actor=ADMIN, group="team", username="olga"))
    location = await rpc.call_method(C.GET, CaseRef(actor=world.member, case_id=world.case.id))
    assert location.case.id == world.case.id


async def test_delete_by_role(
    world: World, rpc: RpcClient, pg_dsn: str, amqp_url: str
) -> None:
    def delete(actor: Principal, case_id: str) -> object:
        return rpc.call_method(C.DELETE, CaseRef(actor=actor, case_id=case_id))

    before = await snapshot(pg_dsn)
    for actor, case_id, status in ((world.member, world.case.id, 403),
                                   (world.stranger, world.case.id, 404),
                                   (world.owner, str(uuid.uuid4()), 404)):
        assert (await refused(delete(actor, case_id))).status == status
    assert await snapshot(pg_dsn) == before
    second = await _register(rpc, world.owner, "second")
    async with EventTap(amqp_url, "modelport.case.deleted") as tap:
        by_admin = await delete(world.admin, world.case.id)
        by_owner = await delete(world.owner, second.id)
        await tap.wait_for(lambda e: e["subject"] == second.id)
    assert isinstance(by_admin, CaseLocation) and isinstance(by_owner, CaseLocation)
    assert (by_admin.s3_key, by_owner.s3_key) == ("cases/base", "cases/second")
    assert [e["subject"] for e in tap.events] == [world.case.id, second.id]
    assert (await _list(rpc, world.owner)).total == 0


async def test_a_case_an_unfinished_job_reads_is_in_use(
    world: World, rpc: RpcClient, pg_dsn: str
) -> None:
    version_id = (await publish(rpc, "transport", "1.1.0", activate=False)).id
    await insert_work(pg_dsn, "job", world.owner, version_id, "queued", case_id=world.case.id)
    finished = await _register(rpc, world.owner, "finished")
    await insert_work(pg_dsn, "job", world.owner, version_id, "succeeded", case_id=finished.id)
    before = await snapshot(pg_dsn)
    error = await refused(rpc.call_method(
        C.DELETE, CaseRef(actor=world.owner, case_id=world.case.id)))
    assert (error.status, error.code) == (409, "in_use")
    assert await snapshot(pg_dsn) == before
    await rpc.call_method(C.DELETE, CaseRef(actor=world.owner, case_id=finished.id))
