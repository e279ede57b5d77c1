"""Runtimes over RPC against a real backend: register, list, get, delete, in use, policy."""

from __future__ import annotations

import pytest

from backend_svc.service import BackendService
from common.amqp.rpc import RpcClient
from common.contracts.methods import RegistryMethods
from common.contracts.registry import ListRuntimes, RuntimeDeleted, RuntimeRef
from tests.backend.helpers import (
    ADMIN,
    add_runtime,
    make_user,
    publish,
    refused,
    snapshot,
)
from tests.support.events import EventTap

M = RegistryMethods


async def _delete(rpc: RpcClient, version: str) -> RuntimeDeleted:
    return await rpc.call_method(M.DELETE_RUNTIME, RuntimeRef(actor=ADMIN, version=version))


async def test_register_list_get(backend: BackendService, rpc: RpcClient) -> None:
    for version in ("1.2.0", "1.10.0", "1.0.0-rc.1"):
        await add_runtime(rpc, version)
    user = await make_user(rpc, "ursula")
    listed = await rpc.call_method(M.LIST_RUNTIMES, ListRuntimes(actor=user))
    assert [r.version for r in listed.runtimes] == ["1.10.0", "1.2.0", "1.0.0-rc.1"]
    got = await rpc.call_method(M.GET_RUNTIME, RuntimeRef(actor=user, version="1.2.0"))
    assert (got.manifest, got.signer_key_id, got.size_bytes) == (
        {"version": "1.2.0", "python": "3.11"}, "key-1", 1234)


async def test_register_and_delete_publish_their_events(
    backend: BackendService, rpc: RpcClient, amqp_url: str
) -> None:
    async with EventTap(amqp_url, "modelport.runtime.*") as tap:
        runtime = await add_runtime(rpc, "1.0.0")
        deleted = await _delete(rpc, "1.0.0")
        await tap.wait_for(lambda e: e["type"] == "modelport.runtime.deleted")
    assert deleted.s3_key == "runtimes/1.0.0/runtime.tar"
    assert [(e["type"], e["subject"], e["data"]["version"]) for e in tap.events] == [
        ("modelport.runtime.registered", runtime.id, "1.0.0"),
        ("modelport.runtime.deleted", runtime.id, "1.0.0"),
    ]
    assert tap.events[0]["data"]["signer_key_id"] == "key-1"


async def test_duplicate_version_is_409_and_changes_nothing(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    await add_runtime(rpc, "1.0.0")
    before = await snapshot(pg_dsn)
    error = await refused(add_runtime(rpc, "1.0.0"))
    assert (error.status, error.code) == (409, "duplicate_version")
    assert await snapshot(pg_dsn) == before


async def test_version_pep440_cannot_order_is_400(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    before = await snapshot(pg_dsn)
    error = await refused(add_runtime(rpc, "01.0.0"))
    assert (error.status, error.code) == (400, "invalid_version")
    assert await snapshot(pg_dsn) == before


async def test_users_may_read_but_not_register_or_delete(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    await add_runtime(rpc, "1.0.0")
    user = await make_user(rpc, "ursula")
    before = await snapshot(pg_dsn)
    for call in (add_runtime(rpc, "2.0.0", actor=user),
                 rpc.call_method(M.DELETE_RUNTIME, RuntimeRef(actor=user, version="1.0.0"))):
        error = await refused(call)
        assert (error.status, error.code) == (403, "forbidden")
    assert await snapshot(pg_dsn) == before


@pytest.mark.parametrize("method", [M.GET_RUNTIME, M.DELETE_RUNTIME])
async def test_unknown_runtime_is_404(
    backend: BackendService, rpc: RpcClient, pg_dsn: str, method: str
) -> None:
    before = await snapshot(pg_dsn)
    error = await refused(rpc.call_method(method, RuntimeRef(actor=ADMIN, version="9.9.9")))
    assert (error.status, error.code) == (404, "not_found")
    assert await snapshot(pg_dsn) == before


async def test_in_use_until_another_runtime_meets_the_requirement(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    await add_runtime(rpc, "1.0.0")
    await publish(rpc, "transport", "1.0.0", requirement=">=1.0,<2")
    before = await snapshot(pg_dsn)
    error = await refused(_delete(rpc, "1.0.0"))
    assert (error.status, error.code) == (409, "in_use")
    assert "transport 1.0.0 (>=1.0,<2)" in error.message
    assert await snapshot(pg_dsn) == before
    await add_runtime(rpc, "2.0.0")  # does not meet <2: still in use
    assert (await refused(_delete(rpc, "1.0.0"))).code == "in_use"
    await add_runtime(rpc, "1.5.0")
    assert (await _delete(rpc, "1.0.0")).s3_key == "runtimes/1.0.0/runtime.tar"


async def test_inactive_versions_do_not_hold_a_runtime(
    backend: BackendService, rpc: RpcClient
) -> None:
    await add_runtime(rpc, "1.0.0")
    await add_runtime(rpc, "2.0.0")
    await publish(rpc, "transport", "1.0.0", requirement=">=2")
    await publish(rpc, "transport", "0.9.0", requirement="<2", activate=False)
    assert (await _delete(rpc, "1.0.0")).s3_key == "runtimes/1.0.0/runtime.tar"
    assert (await refused(_delete(rpc, "2.0.0"))).code == "in_use"
