"""Launching one claimed session on a Docker host: place it, load the runtime image, take a
container (warm or fresh) on the sessions network, put the app and its case in, start the
agent's session mode over the control channel, wait until it answers HTTP.

Everything here raises; :class:`LaunchError` carries the machine reason and the sentence the
user is shown, anything else is the platform's fault (``infrastructure``).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import structlog

from common.contracts.jobs import BlobRef
from common.contracts.sessions import SessionLaunch
from common.docker import (
    Container,
    DockerHost,
    HostPool,
    Limits,
    Need,
    NoCapacity,
    WarmPool,
    ensure_image,
    put_archive,
)
from common.docker.spec import Kind
from common.packages import PackageError, PlatformPrivateKey, TrustedKeys
from common.storage import S3Storage
from modelport.agent.session_protocol import StartCommand
from session_svc.control import AgentStartFailed, ControlChannel
from session_svc.files import APP_DIR, CASE_FILE, session_tar
from session_svc.network import SessionNetworks, container_ip
from session_svc.settings import SessionSettings

log = structlog.get_logger(__name__)
KIND: Kind = "session"
_USER_MESSAGES = {
    "bad_app": "The app could not be loaded in the session: {detail}",
    "bad_case": "The case could not be opened: {detail}",
    "no_capacity": "No server has room for another session right now; try again in a few "
                   "minutes.",
    "start_timeout": "The session did not start in time.",
    "infrastructure": "The platform could not start the session; try again later.",
}


class LaunchError(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.message = _USER_MESSAGES.get(reason, "{detail}").format(detail=detail)
        super().__init__(self.message)


@dataclass
class Env:
    """What every launch of a worker shares."""

    pool: HostPool
    warm: dict[str, WarmPool]  # by host name
    storage: S3Storage
    platform_key: PlatformPrivateKey
    settings: SessionSettings
    trusted_keys: TrustedKeys  # runtime packages are verified against them before docker load
    networks: SessionNetworks  # the sessions network, made ready per host


def base_path(session_id: str) -> str:
    """Where the proxy serves the session: the agent serves its pages under the same path."""
    return f"/s/{session_id}/"


def limits_of(settings: SessionSettings) -> Limits:
    return Limits(memory_mb=settings.session_memory_mb, cpus=settings.session_cpus,
                  pids=settings.session_pids, tmp_mb=settings.session_tmp_mb,
                  work_mb=settings.session_work_mb)


@dataclass
class Started:
    container: Container
    host: DockerHost
    endpoint: str


async def launch(env: Env, job: SessionLaunch, channel: ControlChannel,
                 hold: list[Container],
                 on_placed: Callable[[str], None] = lambda _: None) -> Started:
    """Start the session; ``on_placed`` gets the chosen host's name (so a failure of that
    host while its image loads is seen as one), the container is appended to ``hold`` as
    soon as it exists (the caller removes it on failure). Raises LaunchError."""
    s = env.settings
    began = time.perf_counter()
    steps: dict[str, float] = {}

    def mark(step: str) -> None:
        steps[step] = round((time.perf_counter() - began) * 1000, 1)

    try:
        room = await env.pool.wait_reserve(f"mp-{KIND}-{job.session_id}-{job.attempt}",
                                           Need(memory_mb=s.session_memory_mb),
                                           wait_s=s.room_wait_s)
        with room as reservation:
            host = reservation.host
            on_placed(host.name)
            with tempfile.TemporaryDirectory(prefix="mp-session-") as tmp:
                tar = asyncio.create_task(session_tar(env.storage, env.platform_key,
                                                      _blob(job.app_package), job.case,
                                                      Path(tmp)))
                try:
                    container = await _container(env, host, job)
                except BaseException:
                    tar.cancel()
                    raise
                hold.append(container)
                mark("container")
                await put_archive(container, _chunks(await tar))
                mark("files")
            await channel.open(container)
            await channel.send(_start(job, s))
            ready = await channel.wait_ready(s.start_timeout_s)
            mark("agent_ready")
            info = await host.docker.containers.container(container.id).show()
            endpoint = f"http://{container_ip(info, s.network)}:{ready.port}"
            await _answers(endpoint + base_path(job.session_id), s.start_timeout_s)
            mark("http")
    except NoCapacity:
        raise LaunchError("no_capacity") from None
    except PackageError as exc:
        raise LaunchError("bad_app", str(exc)) from exc
    except AgentStartFailed as exc:
        reason = "bad_case" if exc.reason == "bad_case" else (
            "bad_app" if exc.reason == "bad_app" else "infrastructure")
        raise LaunchError(reason, exc.message) from exc
    except TimeoutError:
        raise LaunchError("start_timeout") from None
    log.info("session_launched", session_id=job.session_id, host=host.name,
             warm=container.serving, **steps)
    return Started(container, host, endpoint)


def _blob(blob: BlobRef | None) -> BlobRef:
    assert blob is not None, "a claimed session names its app package"
    return blob


async def _container(env: Env, host: DockerHost, job: SessionLaunch) -> Container:
    def fetch() -> AsyncIterator[bytes]:
        assert job.runtime_package is not None
        return env.storage.download(job.runtime_package.s3_key)

    assert job.runtime_package is not None
    image = await ensure_image(host, job.runtime_version,
                               f"modelport/runtime:{job.runtime_version}",
                               job.runtime_image_digest, fetch,
                               package_sha256=job.runtime_package.sha256,
                               trusted_keys=env.trusted_keys)
    await env.networks.ready(host)
    warm = env.warm.get(host.name)
    if warm is None:
        raise LaunchError("infrastructure", f"no pool for host {host.name}")
    warm.add_runtime(job.runtime_version, image)
    return await warm.acquire(job.runtime_version, image, kind=KIND, id=job.session_id,
                              attempt=job.attempt, service=host.service,
                              limits=limits_of(env.settings))


def _start(job: SessionLaunch, s: SessionSettings) -> StartCommand:
    return StartCommand(
        app=f"/work/{APP_DIR}", port=s.agent_port, base_path=base_path(job.session_id),
        autosave_s=s.autosave_s, case_path=f"/work/{CASE_FILE}" if job.case else None,
        case_id=job.case_id, case_name=job.case_name, autosave_case_id=job.autosave_case_id,
        session_id=job.session_id)


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:  # noqa: ASYNC230 - local reads, chunk by chunk
        while chunk := f.read(1 << 20):
            yield chunk


async def _answers(url: str, timeout_s: float) -> None:
    """Return once ``url`` answers HTTP (any status below 500); TimeoutError otherwise."""
    delay = 0.005
    async with asyncio.timeout(timeout_s), aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url, allow_redirects=False) as reply:
                    if reply.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
