"""``modelport desktop APP``: a data session on your own machine, solves and cases on the
platform.

The same agent as in a session container (``modelport.agent.session``) serves the app's WebUI
on 127.0.0.1; what a container asks over its control channel goes here to the portal's REST
API with your token (:class:`PortalPlatform`). Only apps whose ``app.toml`` says
``desktop = true`` run on desktops. APP is the app's folder: downloading a published app for
the desktop needs a portal endpoint that does not exist yet (see docs/cli.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import tempfile
import webbrowser
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel

from modelport.agent.session.main import StartFailed, open_session, stop_session
from modelport.agent.session.platform import Platform, PlatformError
from modelport.agent.session_protocol import (
    CancelJobParams,
    FetchResultParams,
    JobEvent,
    OpenCaseParams,
    SaveCaseParams,
    StartCommand,
    SubmitJobParams,
    decode_content,
    encode_content,
)
from modelport.appkit import AppKitError, read_manifest
from modelport.cli.output import note
from modelport.cli.remote import Failed, failure, signed_in
from modelport.client import ApiError, ClientError, PortalClient
from modelport.client.jobs import TERMINAL, Jobs

API_STATUS_CODES = {400: "invalid", 403: "forbidden", 404: "not_found", 409: "invalid",
                    413: "too_large", 422: "invalid"}
JOB_STATES = ("queued", "scheduled", "running", "succeeded", "failed", "cancelled", "lost")


class PortalPlatform(Platform):
    """The session's requests as calls of the portal's REST API, as the signed-in user."""

    def __init__(self, portal: PortalClient, app: str) -> None:
        super().__init__()
        self._portal = portal
        self._app = app
        self._work = Path(tempfile.mkdtemp(prefix="modelport-desktop-"))
        self._followers: set[asyncio.Task[None]] = set()

    async def call(self, method: str, params: BaseModel) -> dict[str, Any]:
        try:
            result: dict[str, Any] = await getattr(self, f"_{method}")(params)
            return result
        except ApiError as exc:
            raise PlatformError(API_STATUS_CODES.get(exc.status, "unavailable"),
                                exc.message) from None
        except ClientError as exc:
            raise PlatformError("unavailable", str(exc)) from None

    async def close(self) -> None:
        for task in self._followers:
            task.cancel()

    def _file(self, name: str, content: bytes | None = None) -> Path:
        path = self._work / name
        if content is not None:
            path.write_bytes(content)
        return path

    async def _save_case(self, params: SaveCaseParams) -> dict[str, Any]:
        """A new case each time (the REST API has no overwrite); an autosave replaces the
        previous autosave by deleting it once the new one is stored."""
        path = self._file("save.mpcase", decode_content(params.content))
        stored = await self._portal.upload_case(path, app=self._app, name=params.name)
        if params.autosave and params.case_id:
            with contextlib.suppress(ClientError):
                await self._portal._json("DELETE", f"/cases/{params.case_id}")
        return {"case_id": str(stored["id"]), "name": str(stored.get("name", params.name))}

    async def _open_case(self, params: OpenCaseParams) -> dict[str, Any]:
        path = self._file("open.mpcase")
        await self._portal.download_case(params.case_id, path)
        found = await self._portal._json("GET", f"/cases/{params.case_id}")
        return {"case_id": params.case_id, "name": str(found.get("name", params.case_id)),
                "content": encode_content(path.read_bytes())}

    async def _list_cases(self, params: BaseModel) -> dict[str, Any]:
        cases = await self._portal.list_cases(self._app)
        return {"cases": [{"case_id": str(c["id"]), "name": str(c.get("name", "")),
                           "created_at": c.get("created_at"),
                           "autosave": c.get("name") == "autosave"} for c in cases]}

    async def _submit_job(self, params: SubmitJobParams) -> dict[str, Any]:
        path = self._file("input.mpcase", decode_content(params.content))
        stored = await self._portal.upload_case(path, app=self._app,
                                                name=f"{params.procedure} input")
        queued = await Jobs(self._portal).submit(self._app, procedure=params.procedure,
                                                 input_case_id=str(stored["id"]),
                                                 **params.options)
        job_id = str(queued["id"])
        task = asyncio.create_task(self._follow(job_id))
        self._followers.add(task)
        task.add_done_callback(self._followers.discard)
        return {"job_id": job_id}

    async def _follow(self, job_id: str) -> None:
        """The job's server-sent events as ``job`` news, until it ends."""
        state, progress = "queued", 0.0
        try:
            async for event in Jobs(self._portal).follow(job_id):
                data = event.data
                state = data["state"] if data.get("state") in JOB_STATES else state
                fraction = data.get("fraction", data.get("progress"))
                progress = float(fraction) if isinstance(fraction, int | float) else progress
                if event.name in ("log", "end"):
                    continue
                await self.job_event(JobEvent(
                    job_id=job_id, state=state, progress=min(max(progress, 0.0), 1.0),
                    message=str(data.get("message") or data.get("reason") or "")))
        except ClientError as exc:
            if state not in TERMINAL:
                await self.job_event(JobEvent(job_id=job_id, state="failed",
                                              message=f"lost the job's progress: {exc}"))

    async def _fetch_result(self, params: FetchResultParams) -> dict[str, Any]:
        path = self._file(f"result-{params.job_id}.mpcase")
        await Jobs(self._portal).download_result(params.job_id, path)
        return {"content": encode_content(path.read_bytes())}

    async def _cancel_job(self, params: CancelJobParams) -> dict[str, Any]:
        found = await Jobs(self._portal).cancel(params.job_id)
        return {"state": str(found.get("state", ""))}


@click.command()
@click.argument("app_ref", metavar="APP")
@click.option("--case-id", help="Open this case of the platform [default: the app's data].")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0: any free one).")
@click.option("--autosave", "autosave_s", type=click.FloatRange(min=0), default=300.0,
              show_default=True, help="Seconds between autosaves to the platform (0: on exit).")
@click.option("--no-browser", is_flag=True, help="Print the URL; do not open a browser.")
def desktop(app_ref: str, case_id: str | None, port: int, autosave_s: float,
            no_browser: bool) -> None:
    """Run APP (an app folder) in a session on this machine; solves and cases go to the
    platform you are signed in to. Stop with Ctrl-C (the data is autosaved first)."""
    folder = _app_folder(app_ref)
    who = signed_in()
    start = StartCommand(app=str(folder), port=port, host="127.0.0.1", autosave_s=autosave_s)

    async def run() -> None:
        async with PortalClient(who.url, who.token) as portal:
            await portal.me()  # a refused token fails now, not at the first save
            platform = PortalPlatform(portal, read_manifest(folder).name)
            if case_id:
                opened = await platform.open_case(case_id)
                start_ = start.model_copy(update={"case_content": opened.content,
                                                  "case_id": case_id, "case_name": opened.name})
            else:
                start_ = start
            await _serve(start_, platform, no_browser)

    try:
        asyncio.run(run())
    except ClientError as exc:
        raise failure(exc, True) from None
    except PlatformError as exc:
        raise Failed(exc.message) from None
    except StartFailed as exc:
        raise Failed(exc.error.message) from None


def _app_folder(app_ref: str) -> Path:
    """The app's folder, checked to allow desktops; :class:`Failed` saying why not."""
    folder = Path(app_ref)
    if not (folder / "app.toml").is_file():
        raise Failed(f"{app_ref}: not an app folder (no app.toml). Running a published app "
                     "by name needs the portal's desktop download, which this platform does "
                     "not offer yet: give the app's folder")
    try:
        manifest = read_manifest(folder)
    except AppKitError as exc:
        raise Failed(exc.message) from None
    if not manifest.desktop:
        raise Failed(f"app {manifest.name} may not run on desktops: its app.toml does not say "
                     "`desktop = true` (its publisher keeps its code on the platform)")
    return folder.resolve()


async def _serve(start: StartCommand, platform: PortalPlatform, no_browser: bool) -> None:
    opened = await open_session(start, platform)
    url = f"http://127.0.0.1:{opened.port}/"
    click.echo(url)
    note(f"{opened.service.loaded.manifest.name} serves at {url}; Ctrl-C stops (autosaving)")
    if not no_browser:
        webbrowser.open(url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    stopped = await stop_session(opened, "desktop")
    await platform.close()
    note(f"stopped; autosave {'case ' + str(stopped.case_id) if stopped.case_id else 'not needed'}"
         if stopped.autosaved else f"stopped; {stopped.message}")
