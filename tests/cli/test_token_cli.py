"""``modelport token create|list|revoke`` against a real backend + portal: the secret printed
once and working, the list without secrets, revoke, and the refusals (bad scope, too long an
expiry, someone else's token, a token of too small a scope managing tokens)."""

from __future__ import annotations

import json

from tests.cli.helpers import cli, signed_in
from tests.portal.uploads import call
from tests.support.stack import Stack


async def test_create_list_revoke(stack: Stack) -> None:
    env = signed_in(stack)
    made = await cli("token", "create", "nightly", "--scope", "jobs", env=env)
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("mp_") and "not shown again" in made.stderr
    status, me = await call(stack, "GET", "/api/v1/me", token=secret)
    assert status == 200 and me["username"] == "admin"
    listed = json.loads((await cli("token", "list", "--json", env=env)).stdout)
    assert [(t["name"], t["scope"]) for t in listed] == [("nightly", "jobs")]
    assert secret not in json.dumps(listed)
    table = await cli("token", "list", env=env)
    assert table.stdout.startswith("ID") and "nightly" in table.stdout
    revoked = await cli("token", "revoke", listed[0]["id"], env=env)
    assert revoked.exit_code == 0 and "revoked" in revoked.stderr
    assert (await call(stack, "GET", "/api/v1/me", token=secret))[0] == 401
    assert (await cli("token", "list", env=env)).stdout.strip() == "no tokens"
    again = await cli("token", "revoke", listed[0]["id"], env=env)
    assert again.exit_code == 1 and "not found" in again.stderr


async def test_refusals(stack: Stack) -> None:
    env = signed_in(stack)
    bad_scope = await cli("token", "create", "x", "--scope", "admin", env=env)
    assert bad_scope.exit_code == 2
    too_long = await cli("token", "create", "x", "--expires-in-days", "5000", env=env)
    assert too_long.exit_code == 1 and "365 days" in too_long.stderr
    read = (await cli("token", "create", "ro", env=env)).stdout.strip()
    as_read = await cli("token", "list", env=signed_in(stack, read))
    assert as_read.exit_code == 1 and "needs 'full'" in as_read.stderr, as_read.output
    bob = await stack.create_user("bob", "bob-password-1")
    mine = json.loads((await cli("token", "list", "--json", env=env)).stdout)
    stranger = await cli("token", "revoke", mine[0]["id"], env=signed_in(stack, bob))
    assert stranger.exit_code == 1 and "not found" in stranger.stderr
    assert len(json.loads((await cli("token", "list", "--json", env=env)).stdout)) == 1
