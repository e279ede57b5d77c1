"""``modelport desktop``: the session agent on this machine, cases kept on a real platform
(backend + portal in-process) with the user's token; the refusals say why."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.cli.helpers import TRANSPORT, cli, signed_in
from tests.support.stack import EXAMPLES, Stack

pytestmark = pytest.mark.timeout(180)


async def test_an_app_that_does_not_allow_desktops_is_refused(config_dir: Path) -> None:
    done = await cli("desktop", str(EXAMPLES / "sleeper"), "--no-browser",
                     env={"MODELPORT_TOKEN": "t"})
    assert done.exit_code == 1
    assert "may not run on desktops" in done.stderr and "desktop = true" in done.stderr


async def test_an_app_name_is_refused_until_the_portal_offers_desktop_downloads(
    config_dir: Path
) -> None:
    done = await cli("desktop", "transport", "--no-browser", env={"MODELPORT_TOKEN": "t"})
    assert done.exit_code == 1 and "give the app's folder" in done.stderr


async def test_without_a_token_it_says_to_sign_in(config_dir: Path) -> None:
    done = await cli("desktop", str(TRANSPORT), "--no-browser")
    assert done.exit_code == 3 and "modelport login" in done.stderr


async def _publish_transport(stack: Stack) -> None:
    env = signed_in(stack)
    runtime = str(stack.pack_runtime("1.0.0"))
    assert (await cli("runtime", "upload", runtime, env=env)).exit_code == 0
    assert (await cli("app", "upload", str(stack.pack_app("transport")), env=env)).exit_code == 0


async def _cases(stack: Stack) -> list[dict[str, object]]:
    async with aiohttp.ClientSession(headers=stack.admin_headers) as http:
        async with http.get(stack.url("/api/v1/cases"), params={"app": "transport"}) as got:
            return list((await got.json())["cases"])


async def test_a_desktop_session_keeps_its_cases_on_the_platform(stack: Stack) -> None:
    await _publish_transport(stack)
    env = {**os.environ, **signed_in(stack), "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "modelport", "desktop", str(TRANSPORT), "--no-browser",
        "--autosave", "0", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        url = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
        assert url.startswith("http://127.0.0.1:"), (url, await proc.stderr.read(4000))
        async with aiohttp.ClientSession() as http:
            async with http.patch(url + "api/data/demand", json={"changes": [
                    {"element": ["topeka"], "value": 280}]}) as changed:
                assert changed.status == 200
            async with http.post(url + "api/case/save-as", json={"name": "desk"}) as saved:
                body = await saved.json()
                assert saved.status == 200, body
            async with http.get(url + "api/cases") as listed:
                assert [c["name"] for c in (await listed.json())["cases"]] == ["desk"]
            async with http.post(url + "api/case/open", json={"case_id": "nope"}) as missing:
                assert missing.status in (400, 404)
        stored = await _cases(stack)
        assert [c["name"] for c in stored] == ["desk"]
        assert stored[0]["id"] == body["case"]["case_id"]
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        stderr = (await proc.stderr.read()).decode()
        assert "stopped; autosave case" in stderr, stderr
        assert sorted(c["name"] for c in await _cases(stack)) == ["autosave", "desk"]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_the_desktop_command_is_registered() -> None:
    from modelport.cli.main import cli as modelport_cli

    assert "desktop" in modelport_cli.commands
