"""``python -m modelport.agent session``: a data session driven over stdin/stdout.

Preload, wait for ``start``, load the app and the initial case, serve, answer ``ready``;
then handle ``ping``, ``notice`` and ``stop`` until ``stop`` (or SIGTERM: the same) or EOF.
``open_session`` is shared with ``modelport desktop``, which drives it without a channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from modelport.agent.capture import StdoutCapture, protocol_stream
from modelport.agent.protocol import EXIT_INTERNAL, EXIT_INVALID, EXIT_OK
from modelport.agent.session.channel import ControlChannel
from modelport.agent.session.data import SessionData
from modelport.agent.session.platform import Platform
from modelport.agent.session.service import CaseRef, SessionService
from modelport.agent.session.web import make_app, normalise_base
from modelport.agent.session_protocol import (
    HostMessage,
    NoticeCommand,
    PingCommand,
    PongEvent,
    ReadyEvent,
    StartCommand,
    StartError,
    StartFailure,
    StopCommand,
    StoppedEvent,
    decode_content,
)
from modelport.appkit import AppKitError, DataError, load_app
from modelport.case import CaseError

STOP_SAVE_TIMEOUT_S = 10.0


class StartFailed(Exception):
    def __init__(self, reason: StartFailure, message: str,
                 issues: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.error = StartError(reason=reason, message=message, issues=issues or [])

    @property
    def exit_code(self) -> int:
        return EXIT_INTERNAL if self.error.reason == "internal" else EXIT_INVALID


@dataclass
class OpenSession:
    """A session that serves: its service, its HTTP runner and the port it listens on."""

    service: SessionService
    runner: web.AppRunner
    port: int
    autosaver: asyncio.Task[None]

    async def close(self) -> None:
        self.autosaver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.autosaver
        await self.service.hub.close_all()
        await self.runner.cleanup()


async def open_session(start: StartCommand, platform: Platform) -> OpenSession:
    """Load the app and the initial case, and listen; raises StartFailed."""
    try:
        loaded = load_app(Path(start.app))
    except AppKitError as exc:
        raise StartFailed("bad_app", exc.message) from None
    except Exception as exc:
        raise StartFailed("bad_app", f"importing the app failed: {exc!r}") from None
    data = SessionData(loaded.app)
    initial = _initial_case(start)
    if initial is not None:
        _open_initial(data, initial)
    service = SessionService(
        loaded, data, platform, autosave_s=start.autosave_s,
        case=CaseRef(start.case_id, start.case_name), autosave_case_id=start.autosave_case_id)
    runner = web.AppRunner(make_app(service, start.base_path), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, start.host, start.port)
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise StartFailed("port_in_use", f"cannot listen on {start.host}:{start.port}: "
                                         f"{exc.strerror or exc}") from None
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return OpenSession(service, runner, port, asyncio.create_task(service.autosave_loop()))


def _initial_case(start: StartCommand) -> bytes | None:
    try:
        if start.case_path:
            return Path(start.case_path).read_bytes()
        if start.case_content:
            return decode_content(start.case_content)
    except (OSError, ValueError) as exc:
        raise StartFailed("bad_case", f"initial case: {exc}") from None
    return None


def _open_initial(data: SessionData, content: bytes) -> None:
    try:
        data.open_case(content)
    except CaseError as exc:
        raise StartFailed("bad_case", f"initial case: {exc.message} ({exc.code})") from None
    except DataError as exc:
        raise StartFailed("bad_case", f"initial case: {exc.message}",
                          [i.to_dict() for i in exc.issues]) from None


async def stop_session(opened: OpenSession, reason: str) -> StoppedEvent:
    """Autosave (bounded), then close everything; the ``stopped`` line to send."""
    try:
        saved = await asyncio.wait_for(opened.service.autosave(), STOP_SAVE_TIMEOUT_S)
        message = "" if saved else "autosave failed"
    except TimeoutError:
        saved, message = False, f"autosave took longer than {STOP_SAVE_TIMEOUT_S:g} s"
    await opened.close()
    return StoppedEvent(reason=reason, autosaved=saved,
                        case_id=opened.service.autosave_case_id, message=message)


# --- the command ---------------------------------------------------------------------------


def main(stdin_fd: int = 0) -> int:
    """Run a session on this process's stdin/stdout; the exit code."""
    with protocol_stream() as stream:
        channel = ControlChannel(stream, stdin_fd)
        with StdoutCapture(lambda line: channel.log(line, "stdout")):
            return asyncio.run(_session(channel))


async def _session(channel: ControlChannel) -> int:
    commands: asyncio.Queue[HostMessage | None] = asyncio.Queue()

    async def enqueue(message: HostMessage) -> None:
        await commands.put(message)

    channel.on_command = enqueue
    reader = asyncio.create_task(channel.run())
    reader.add_done_callback(lambda _: commands.put_nowait(None))
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, commands.put_nowait, StopCommand(reason="SIGTERM"))
    try:
        return await _lifecycle(channel, commands)
    finally:
        reader.cancel()


async def _lifecycle(channel: ControlChannel,
                     commands: asyncio.Queue[HostMessage | None]) -> int:
    start = await _wait_start(commands)
    if start is None:
        return EXIT_OK
    os.environ.update(start.env)
    try:
        opened = await open_session(start, channel)
    except StartFailed as failure:
        channel.send_now(failure.error)
        return failure.exit_code
    except Exception as exc:  # the host must hear why, not just see an exit
        channel.send_now(StartError(reason="internal", message=f"session start failed: {exc!r}"))
        raise
    loaded = opened.service.loaded
    channel.send_now(ReadyEvent(port=opened.port, base_path=normalise_base(start.base_path),
                                app=loaded.manifest.name, app_version=loaded.manifest.version,
                                pid=os.getpid()))
    while (command := await commands.get()) is not None:
        if isinstance(command, StopCommand):
            channel.send_now(await stop_session(opened, command.reason))
            return EXIT_OK
        await _answer(channel, opened.service, command)
    print("session: the host closed stdin; stopping without autosave", file=sys.stderr)
    await opened.close()
    return EXIT_OK


async def _wait_start(commands: asyncio.Queue[HostMessage | None]) -> StartCommand | None:
    while (command := await commands.get()) is not None:
        if isinstance(command, StartCommand):
            return command
        if isinstance(command, StopCommand):
            return None
    return None


async def _answer(channel: ControlChannel, service: SessionService,
                  command: HostMessage) -> None:
    if isinstance(command, PingCommand):
        channel.send_now(PongEvent(id=command.id, idle_s=round(service.idle_s, 3),
                                   dirty=service.dirty))
    elif isinstance(command, NoticeCommand):
        await service.notice(command.message, command.level)
