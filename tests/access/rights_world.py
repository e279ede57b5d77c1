"""A platform with one of every kind of caller and resource, for the authorization tests.

``prepare(stack)`` makes, through the REST API: a publisher ``pub``, two plain users
``alice`` (who owns the case, job and session) and ``bob`` (a stranger to them), the group
``team`` (alice), runtimes 1.0.0 and 2.0.0, the app ``transport`` published by ``pub`` and one
case, job and session of alice's. Helpers make a fresh resource where a call uses one up.
"""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.portal.uploads import OCTETS, case_bytes
from tests.support.stack import EXAMPLES, Stack

PASSWORD = "password-123"
IDENTITIES = ("anon", "user", "other", "publisher", "admin")
"""Who calls: nobody, alice (the owner of the prepared case, job and session), bob (another
plain user), pub (a publisher, creator of the app) and the admin."""
USERNAMES = {"user": "alice", "other": "bob", "publisher": "pub"}
_names = itertools.count(1)


@dataclass
class World:
    stack: Stack
    tokens: dict[str, str]
    case_id: str = ""
    job_id: str = ""
    session_id: str = ""
    params: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {} if who == "anon" else self.stack.bearer(self.tokens[who])


async def api(stack: Stack, method: str, path: str, token: str | None, *,
              stream: bool = False, **kwargs: Any) -> tuple[int, Any]:
    """Status and JSON (None when empty or ``stream``: only the status is read)."""
    headers = kwargs.pop("headers", {}) | ({} if token is None else stack.bearer(token))
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.request(
            method, stack.url(path), headers=headers, **kwargs) as resp:
        if stream or resp.content_type != "application/json":
            return resp.status, None
        text = await resp.text()
        return resp.status, (await resp.json()) if text else None


async def ok(stack: Stack, method: str, path: str, token: str | None, expect: int,
             **kwargs: Any) -> Any:
    status, body = await api(stack, method, path, token, **kwargs)
    assert status == expect, (method, path, status, body)
    return body


def app_version_package(stack: Stack, version: str, src: str = "transport") -> bytes:
    """The example app ``src`` packed as ``version`` (and named ``src`` unless it is)."""
    folder = stack.work_dir / f"{src}-{version}"
    if not folder.exists():
        shutil.copytree(EXAMPLES / "transport", folder)
        toml = folder / "app.toml"
        text = toml.read_text().replace('version = "1.0.0"', f'version = "{version}"')
        toml.write_text(text.replace('name = "transport"', f'name = "{src}"'))
    return stack.pack_app(folder, out=stack.work_dir / f"{src}-{version}.mpapp").read_bytes()


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


async def make_user(stack: Stack, name: str, role: str = "user") -> str:
    await ok(stack, "POST", "/api/v1/users", stack.admin_token, 201,
             json={"username": name, "password": PASSWORD, "role": role})
    return await stack.login(name, PASSWORD)


async def prepare(stack: Stack) -> World:
    admin = stack.admin_token
    tokens = {"admin": admin, "publisher": await make_user(stack, "pub", "publisher"),
              "user": await make_user(stack, "alice"), "other": await make_user(stack, "bob")}
    await make_user(stack, "carol")
    await ok(stack, "POST", "/api/v1/groups", admin, 201, json={"name": "team"})
    await ok(stack, "POST", "/api/v1/groups/team/members", admin, 200,
             json={"username": "alice"})
    for version in ("1.0.0", "2.0.0"):
        await ok(stack, "POST", "/api/v1/runtimes", admin, 201, headers=OCTETS,
                 data=stack.pack_runtime(version).read_bytes())
    await ok(stack, "POST", "/api/v1/apps", tokens["publisher"], 201, headers=OCTETS,
             data=stack.pack_app("transport").read_bytes())
    world = World(stack, tokens)
    world.case_id = await fresh_case(world)
    world.job_id = await fresh_job(world)
    world.session_id = await fresh_session(world)
    world.params = {"name": "transport", "version": "1.0.0", "case_id": world.case_id,
                    "other_id": world.case_id, "job_id": world.job_id,
                    "session_id": world.session_id, "username": "carol"}
    return world


async def fresh_case(world: World, app: str = "transport", who: str = "user") -> str:
    body = await ok(world.stack, "POST", "/api/v1/cases", world.tokens[who], 201,
                    params={"app": app, "name": unique("case-")}, headers=OCTETS,
                    data=case_bytes())
    return str(body["id"])


async def fresh_job(world: World) -> str:
    body = await ok(world.stack, "POST", "/api/v1/jobs", world.tokens["user"], 202,
                    json={"app": "transport"})
    return str(body["id"])


async def fresh_session(world: World) -> str:
    body = await ok(world.stack, "POST", "/api/v1/sessions", world.tokens["user"], 201,
                    json={"app": "transport"})
    return str(body["id"])


async def fresh_app_version(world: World) -> str:
    version = f"1.5.{next(_names)}"
    await ok(world.stack, "POST", "/api/v1/apps", world.stack.admin_token, 201,
             headers=OCTETS, params={"activate": "false"},
             data=app_version_package(world.stack, version))
    return version
