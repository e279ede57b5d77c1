"""``modelport admin host list|drain|return`` against a real backend + portal: an admin sees
the hosts workers reported, drains and returns one; refusals exit 1 and change nothing."""

from __future__ import annotations

import json

from backend_svc import hosts
from common.contracts.admin import HostLoad
from tests.cli.helpers import cli, signed_in
from tests.support import db_state
from tests.support.stack import Stack

TABLES = ["docker_hosts", "audit_log"]


async def _reported(stack: Stack) -> None:
    assert stack.backend.pool is not None
    async with stack.backend.pool.acquire() as conn:
        await hosts.report(conn, "solve-1", [HostLoad(
            name="h1", zone="a", healthy=True, slots=4, used_slots=1, memory_mb=8000,
            used_memory_mb=512)])


async def test_admin_lists_drains_and_returns_a_host(stack: Stack) -> None:
    await _reported(stack)
    env = signed_in(stack)
    listed = await cli("admin", "host", "list", env=env)
    assert listed.exit_code == 0, listed.output
    assert "h1" in listed.stdout and "healthy" in listed.stdout and "1/4" in listed.stdout

    drained = await cli("admin", "host", "drain", "h1", env=env)
    assert drained.exit_code == 0, drained.output
    assert "drained h1" in drained.stdout
    as_json = json.loads((await cli("admin", "host", "list", "--json", env=env)).stdout)
    assert [(h["name"], h["drained"], h["drained_by"]) for h in as_json] == [
        ("h1", True, "admin")]
    assert "drained" in (await cli("admin", "host", "list", env=env)).stdout

    returned = await cli("admin", "host", "return", "h1", env=env)
    assert returned.exit_code == 0, returned.output
    as_json = json.loads((await cli("admin", "host", "list", "--json", env=env)).stdout)
    assert as_json[0]["drained"] is False


async def test_unknown_host_and_non_admin_exit_1_and_change_nothing(stack: Stack) -> None:
    await _reported(stack)
    bob = await stack.create_user("bob", "bob-password-1")
    assert stack.backend.pool is not None
    async with stack.backend.pool.acquire() as conn:
        before = await db_state.tables(conn, TABLES)
    unknown = await cli("admin", "host", "drain", "nowhere", env=signed_in(stack))
    assert (unknown.exit_code, unknown.stderr.strip()) == (
        1, "error: host not found (not_found, HTTP 404)")
    refused = await cli("admin", "host", "drain", "h1", env=signed_in(stack, bob))
    assert refused.exit_code == 1 and "not allowed" in refused.stderr, refused.stderr
    listing = await cli("admin", "host", "list", env=signed_in(stack, bob))
    assert listing.exit_code == 1
    async with stack.backend.pool.acquire() as conn:
        assert await db_state.tables(conn, TABLES) == before
