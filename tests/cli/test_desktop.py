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

from common.settings import S3Settings
from tests.agent.session_support import next_ws
from tests.cli.helpers import TRANSPORT, cli, signed_in
from tests.portal.jobs_support import WorkerDriver, jobs_stack
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


async def launch(stack: Stack) -> tuple[asyncio.subprocess.Process, str]:
    env = {**os.environ, **signed_in(stack), "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "modelport", "desktop", str(TRANSPORT), "--no-browser",
        "--autosave", "0", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env)
    assert proc.stdout is not None
    url = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
    assert url.startswith("http://127.0.0.1:"), url
    return proc, url


def solved_case() -> bytes:
    """The result case a solve worker would store: transport solved on its defaults."""
    import io

    from modelport.appkit import load_app, run, save_case

    app = load_app(TRANSPORT).app
    data = app.default_data()
    buffer = io.BytesIO()
    save_case(app, buffer, {**data, **run(app, "solve", data)})
    return buffer.getvalue()


async def test_solve_on_a_desktop_runs_as_a_platform_job_and_loads_its_result(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path, config_dir: Path,
    quiet_server_logs: None,
) -> None:
    async with jobs_stack(pg_dsn, amqp_url, s3_settings, tmp_path / "stack") as (stack, driver):
        proc, url = await launch(stack)
        try:
            await _solve_through(stack, driver, url)
            proc.send_signal(signal.SIGINT)
            assert await asyncio.wait_for(proc.wait(), 60) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def _solve_through(stack: Stack, driver: WorkerDriver, url: str) -> None:
    ws_url = url.replace("http://", "ws://") + "ws"
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as socket:
        await next_ws(socket, "hello")
        async with http.post(url + "api/procedures/solve") as pressed:
            body = await pressed.json()
            assert pressed.status == 202, body
        job_id = body["job"]["job_id"]
        assert await driver.state(job_id) == "queued"
        await driver.start(job_id)
        await driver.progress(job_id, 0.5, "half way")
        half = await next_ws(socket, "job", 30, progress=0.5)
        assert half["state"] == "running" and half["message"] == "half way"
        await driver.succeed(job_id, output=solved_case())
        loaded = await next_ws(socket, "job", 30, loaded=True)
        assert loaded["state"] == "succeeded" and not loaded["error"]
        async with http.get(url + "api/data/total_cost") as cost:
            assert (await cost.json())["value"] == pytest.approx(153.675)
    inputs = [c for c in await _cases(stack) if c["name"] == "solve input"]
    assert len(inputs) == 1  # the session's data went up as the job's input case


def test_the_desktop_command_is_registered() -> None:
    from modelport.cli.main import cli as modelport_cli

    assert "desktop" in modelport_cli.commands
