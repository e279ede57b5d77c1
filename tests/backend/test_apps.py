"""Apps over RPC against a real backend: publish, activate/rollback, delete, events, policy."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from backend_svc.service import BackendService
from common.amqp.rpc import RpcClient
from common.contracts.cases import CaseRef, RegisterCase
from common.contracts.methods import CaseMethods, RegistryMethods
from common.contracts.registry import (
    AppOut,
    AppRef,
    AppVersionDeleted,
    AppVersionRef,
    ListApps,
    RuntimeRef,
)
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

M = RegistryMethods


async def _activate(rpc: RpcClient, app: str, version: str) -> AppOut:
    return await rpc.call_method(
        M.ACTIVATE_APP, AppVersionRef(actor=ADMIN, name=app, version=version))


async def _delete(rpc: RpcClient, app: str, version: str) -> AppVersionDeleted:
    return await rpc.call_method(
        M.DELETE_APP_VERSION, AppVersionRef(actor=ADMIN, name=app, version=version))


async def _get(rpc: RpcClient, app: str) -> AppOut:
    return await rpc.call_method(M.GET_APP, AppRef(actor=ADMIN, name=app))


async def test_first_version_publishes_exactly_published_and_activated(
    backend: BackendService, rpc: RpcClient, amqp_url: str
) -> None:
    await add_runtime(rpc, "1.0.0")
    async with EventTap(amqp_url, "modelport.app.*") as tap:
        published = await publish(rpc, "transport", "1.0.0", activate=False)
        sentinel = await publish(rpc, "sentinel", "1.0.0")
        # The relay publishes in commit order: once the sentinel is activated, a duplicate of
        # transport's events would have arrived before it.
        await tap.wait_for(lambda e: e["type"] == "modelport.app.activated"
                           and e["data"]["app"] == "sentinel")
    assert published.active  # the first version is activated even when not asked
    transport = [e for e in tap.events if e["data"]["app"] == "transport"]
    assert [e["type"] for e in transport] == ["modelport.app.version_published",
                                              "modelport.app.activated"]
    assert transport[0]["data"] == {"v": 1, "app_id": transport[0]["subject"],
                                    "app": "transport", "version_id": published.id,
                                    "version": "1.0.0"}
    assert sentinel.app == "sentinel"


async def test_later_version_activates_only_when_asked_and_rollback(
    backend: BackendService, rpc: RpcClient, amqp_url: str
) -> None:
    await add_runtime(rpc, "1.0.0")
    await publish(rpc, "transport", "1.0.0")
    async with EventTap(amqp_url, "modelport.app.*") as tap:
        quiet = await publish(rpc, "transport", "1.1.0", activate=False)
        assert not quiet.active and (await _get(rpc, "transport")).active_version == "1.0.0"
        await publish(rpc, "transport", "2.0.0")
        rolled_back = await _activate(rpc, "transport", "1.0.0")
        await tap.wait_for(lambda e: e["type"] == "modelport.app.activated"
                           and e["data"]["version"] == "1.0.0")
    assert [(e["type"].rsplit(".", 1)[1], e["data"]["version"]) for e in tap.events] == [
        ("version_published", "1.1.0"), ("version_published", "2.0.0"),
        ("activated", "2.0.0"), ("activated", "1.0.0"),
    ]
    assert rolled_back.active_version == "1.0.0" and rolled_back.title == "Transport 1.0.0"
    assert [(v.version, v.active) for v in rolled_back.versions] == [
        ("2.0.0", False), ("1.1.0", False), ("1.0.0", True)]


async def test_users_list_and_get_apps(backend: BackendService, rpc: RpcClient) -> None:
    await add_runtime(rpc, "1.0.0")
    await publish(rpc, "transport", "1.0.0")
    await publish(rpc, "facility", "0.1.0")
    user = await make_user(rpc, "ursula")
    listed = await rpc.call_method(M.LIST_APPS, ListApps(actor=user))
    assert [(a.name, a.active_version) for a in listed.apps] == [("facility", "0.1.0"),
                                                                  ("transport", "1.0.0")]
    got = await rpc.call_method(M.GET_APP, AppRef(actor=user, name="transport"))
    assert got.versions[0].manifest == {"name": "transport", "version": "1.0.0"}


async def test_duplicate_version_is_409_and_changes_nothing(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    await add_runtime(rpc, "1.0.0")
    await publish(rpc, "transport", "1.0.0")
    before = await snapshot(pg_dsn)
    error = await refused(publish(rpc, "transport", "1.0.0"))
    assert (error.status, error.code) == (409, "duplicate_version")
    assert await snapshot(pg_dsn) == before


async def test_unsatisfied_requirement_is_400_naming_what_exists(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    await add_runtime(rpc, "1.2.0")
    await add_runtime(rpc, "1.10.0")
    before = await snapshot(pg_dsn)
    error = await refused(publish(rpc, "transport", "1.0.0", requirement=">=2.0"))
    assert (error.status, error.code) == (400, "runtime_unsatisfied")
    assert "'>=2.0'" in error.message and "1.2.0, 1.10.0" in error.message
    assert await snapshot(pg_dsn) == before  # not even the app row


async def test_malformed_requirement_is_400(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    await add_runtime(rpc, "1.0.0")
    before = await snapshot(pg_dsn)
    error = await refused(publish(rpc, "transport", "1.0.0", requirement="at least one"))
    assert (error.status, error.code) == (400, "invalid_requirement")
    assert await snapshot(pg_dsn) == before


async def test_users_may_not_publish_activate_or_delete(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    await add_runtime(rpc, "1.0.0")
    await publish(rpc, "transport", "1.0.0")
    await publish(rpc, "transport", "1.1.0", activate=False)
    user = await make_user(rpc, "ursula")
    ref = AppVersionRef(actor=user, name="transport", version="1.1.0")
    before = await snapshot(pg_dsn)
    for call in (publish(rpc, "transport", "2.0.0", actor=user),
                 rpc.call_method(M.ACTIVATE_APP, ref),
                 rpc.call_method(M.DELETE_APP_VERSION, ref)):
        assert (await refused(call)).status == 403
    assert await snapshot(pg_dsn) == before


@pytest.mark.parametrize("method,version", [(M.GET_APP, None), (M.ACTIVATE_APP, "1.0.0"),
                                            (M.ACTIVATE_APP, "9.0.0"),
                                            (M.DELETE_APP_VERSION, "9.0.0")])
async def test_unknown_app_or_version_is_404(
    backend: BackendService, rpc: RpcClient, pg_dsn: str, method: str, version: str | None
) -> None:
    await add_runtime(rpc, "1.0.0")
    await publish(rpc, "transport", "1.0.0")
    name = "nothing" if version in (None, "1.0.0") else "transport"
    request = (AppRef(actor=ADMIN, name=name) if version is None
               else AppVersionRef(actor=ADMIN, name=name, version=version))
    before = await snapshot(pg_dsn)
    error = await refused(rpc.call_method(method, request))
    assert (error.status, error.code) == (404, "not_found")
    assert await snapshot(pg_dsn) == before


async def test_activating_a_version_no_runtime_meets_is_400(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    await add_runtime(rpc, "1.0.0")
    await add_runtime(rpc, "2.0.0")
    await publish(rpc, "transport", "2.0.0", requirement=">=2")
    await publish(rpc, "transport", "1.0.0", requirement="<2", activate=False)
    await rpc.call_method(M.DELETE_RUNTIME, RuntimeRef(actor=ADMIN, version="1.0.0"))
    before = await snapshot(pg_dsn)
    error = await refused(_activate(rpc, "transport", "1.0.0"))
    assert (error.status, error.code) == (400, "runtime_unsatisfied")
    assert await snapshot(pg_dsn) == before



async def test_delete_versions_then_the_app(
    backend: BackendService, rpc: RpcClient, amqp_url: str
) -> None:
    await add_runtime(rpc, "1.0.0")
    first = await publish(rpc, "transport", "1.0.0")
    await publish(rpc, "transport", "1.1.0", activate=False)
    async with EventTap(amqp_url, "modelport.app.deleted") as tap:
        deleted = await _delete(rpc, "transport", "1.1.0")
        assert [v.version for v in (await _get(rpc, "transport")).versions] == ["1.0.0"]
        last = await _delete(rpc, "transport", "1.0.0")
        await tap.wait_for(lambda e: e["data"]["version"] == "1.0.0")
    assert (deleted.s3_key, last.s3_key) == ("apps/transport/1.1.0/app.mpapp",
                                             "apps/transport/1.0.0/app.mpapp")
    assert [e["data"]["version"] for e in tap.events] == ["1.1.0", "1.0.0"]
    assert tap.events[1]["data"]["version_id"] == first.id
    assert (await refused(_get(rpc, "transport"))).status == 404
    await publish(rpc, "transport", "1.0.0")  # the name is free again


async def test_active_version_is_in_use_while_others_exist(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    await add_runtime(rpc, "1.0.0")
    await publish(rpc, "transport", "1.0.0")
    await publish(rpc, "transport", "1.1.0", activate=False)
    before = await snapshot(pg_dsn)
    error = await refused(_delete(rpc, "transport", "1.0.0"))
    assert (error.status, error.code) == (409, "in_use")
    assert "active version" in error.message
    assert await snapshot(pg_dsn) == before


@pytest.mark.parametrize("kind,state", [("job", "queued"), ("job", "running"),
                                        ("session", "requested"), ("session", "ready"),
                                        ("job", "succeeded"), ("session", "stopped")])
async def test_version_used_by_jobs_or_sessions_is_in_use(
    backend: BackendService, rpc: RpcClient, pg_dsn: str, kind: str, state: str
) -> None:
    """Unfinished work uses the version; finished work keeps it in its history."""
    await add_runtime(rpc, "1.0.0")
    await publish(rpc, "transport", "1.0.0")
    used = await publish(rpc, "transport", "1.1.0", activate=False)
    await insert_work(pg_dsn, kind, await make_user(rpc, "ursula"), used.id, state)
    before = await snapshot(pg_dsn)
    error = await refused(_delete(rpc, "transport", "1.1.0"))
    assert (error.status, error.code) == (409, "in_use")
    finished = state in ("succeeded", "stopped")
    assert ("finished jobs or sessions still refer" in error.message) == finished
    assert await snapshot(pg_dsn) == before


async def test_last_version_of_an_app_with_cases_is_in_use(
    backend: BackendService, rpc: RpcClient, pg_dsn: str
) -> None:
    await add_runtime(rpc, "1.0.0")
    await publish(rpc, "transport", "1.0.0")
    owner = await make_user(rpc, "ursula")
    await rpc.call_method(CaseMethods.REGISTER, RegisterCase(
        actor=owner, case_id=str(uuid.uuid4()), app="transport", name="base", s3_key="k",
        sha256=SHA, size_bytes=1))
    before = await snapshot(pg_dsn)
    error = await refused(_delete(rpc, "transport", "1.0.0"))
    assert (error.status, error.code) == (409, "in_use")
    assert "1 case(s)" in error.message
    assert await snapshot(pg_dsn) == before


async def test_a_case_outlives_the_version_it_was_made_with(
    backend: BackendService, rpc: RpcClient
) -> None:
    await add_runtime(rpc, "1.0.0")
    await publish(rpc, "transport", "1.0.0")
    await publish(rpc, "transport", "1.1.0", activate=False)
    owner = await make_user(rpc, "ursula")
    case_id = str(uuid.uuid4())
    await rpc.call_method(CaseMethods.REGISTER, RegisterCase(
        actor=owner, case_id=case_id, app="transport", app_version="1.1.0", name="base",
        s3_key="k", sha256=SHA, size_bytes=1))
    await _delete(rpc, "transport", "1.1.0")
    location = await rpc.call_method(CaseMethods.GET, CaseRef(actor=owner, case_id=case_id))
    assert (location.case.app, location.case.app_version) == ("transport", None)


async def test_concurrent_first_versions_make_one_app_with_one_active(
    backend: BackendService, rpc: RpcClient
) -> None:
    await add_runtime(rpc, "1.0.0")
    versions = [f"1.{n}.0" for n in range(6)]
    published = await asyncio.gather(
        *(publish(rpc, "transport", v, activate=False) for v in versions))
    app = await _get(rpc, "transport")
    assert sorted(v.version for v in app.versions) == sorted(versions)
    assert sum(v.active for v in published) == 1
    assert app.active_version == next(v.version for v in published if v.active)
