"""The sessions a session worker holds: launch on StartSession, stop on StopSession, the
heartbeat (lease renewal, idle times, idle warning and culling) and job news for the agents.

A session is held from its claim: its lease is renewed while it starts. When its agent ends
without being asked to (the container was killed or died), the worker removes the container
and stops reporting it: backend's lease expiry marks it ``lost`` with its reason. When the
worker itself dies, backend restarts its sessions on another worker (``worker_lost``); the
relaunch removes the container the dead worker left (:mod:`session_svc.orphans`). When its
Docker host fails (the pool marks it down, or the agent's end or a failed launch is followed
by a ping that confirms it) the worker reports ``failed`` with reason ``host_down`` at once:
backend restarts the session on a healthy host from its last autosave. An agent that ends
unasked, or a launch that fails as ``infrastructure`` or ``start_timeout``, on a host that
still answers is given ``AGENT_END_RECHECK_S`` to be explained by its host going away (an
engine shut down gracefully stops its containers before its API goes) before it counts as a
dead agent or a failed launch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from common.backoff import retry
from common.contracts.sessions import HeldSession
from common.docker import Container, remove
from common.errors import ModelportError, Unavailable
from common.lifecycle import cut
from modelport.agent.session_protocol import (
    TERMINAL_JOB_STATES,
    JobEvent,
    NoticeCommand,
    StopCommand,
)
from session_svc.acts import OwnerActs
from session_svc.backend import BackendLink, Held
from session_svc.control import ControlChannel
from session_svc.launch import Env, LaunchError, launch
from session_svc.orphans import remove_earlier

log = structlog.get_logger(__name__)
PING_TIMEOUT_S = 2.0
# an engine shutting down stops its containers (and refuses calls) before its API goes
AGENT_END_RECHECK_S = 5.0
# a launch failing with these may be its host going away (its agent killed before it was
# ready, a call refused): they too wait AGENT_END_RECHECK_S for the host to be seen down
HOST_FAULT_REASONS = ("infrastructure", "start_timeout")


@dataclass
class Running:
    held: Held
    channel: ControlChannel
    containers: list[Container] = field(default_factory=list)
    ready: bool = False
    stopping: bool = False
    warned: bool = False
    jobs: set[str] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    idle_s: float | None = None  # from the agent's last pong
    pinging: bool = False
    host_lost: bool = False
    placed: str | None = None  # the host chosen for it, before its container exists
    lease_ttl_s: float = 30.0  # its lease: how long a report may be retried

    @property
    def host(self) -> str | None:
        """The Docker host it was placed on (None before placement)."""
        return self.containers[0].host.name if self.containers else self.placed

    def place(self, host: str) -> None:
        self.placed = host


class SessionWorker:
    """Holds sessions by id; :meth:`start` and :meth:`stop` are the commands' handlers."""

    def __init__(self, name: str, env: Env, backend: BackendLink) -> None:
        self.name, self.env, self.backend = name, env, backend
        self.sessions: dict[str, Running] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._retired = False
        self._stops: set[asyncio.Task[None]] = set()  # stops and pings in flight

    def begin(self) -> None:
        self._heartbeat = asyncio.create_task(self._beat(), name="session-heartbeat")
        self.env.pool.on_health(self._host_health)

    def _host_health(self, host: str, healthy: bool) -> None:
        """A host went down: hand its sessions back to be restarted elsewhere, and check its
        sessions network again before the next launch there."""
        if healthy:
            return
        self.env.networks.forget(host)
        warm = self.env.warm.get(host)
        if warm is not None:
            warm.forget_idle()
        for running in list(self.sessions.values()):
            if running.host == host and not running.stopping:
                task = asyncio.create_task(self._host_lost(running), name="session-host-lost")
                self._stops.add(task)
                task.add_done_callback(self._stops.discard)

    async def _host_down(self, running: Running, *, within_s: float = 0.0) -> bool:
        """True when the session's host is down now (checked afresh), or goes down within
        ``within_s`` (checked every 0.5 s)."""
        return running.host is not None and await self.env.pool.goes_down(running.host,
                                                                          within_s)

    async def _host_lost(self, running: Running) -> None:
        """Drop the session (its container went with the host) and report ``host_down``:
        backend restarts it on a healthy host from its last autosave."""
        if running.host_lost:
            return
        running.host_lost = running.stopping = True
        log.warning("session_host_lost", session_id=running.held.session_id,
                    host=running.host)
        if running.task is not None and running.task is not asyncio.current_task():
            running.task.cancel()
        await self._forget(running)
        try:
            await self._tell(running, lambda: self.backend.failed(
                running.held, "host_down", f"Docker host {running.host} failed"))
        except ModelportError as exc:  # the lease settles it (lost, not restarted)
            log.warning("session_host_lost_not_sent", error=exc.message)

    async def start(self, session_id: str) -> None:
        """Claim the session and launch it in the background (no-op if not ours)."""
        if self._retired or session_id in self.sessions:
            return
        claimed = await self.backend.claim(session_id)
        if not claimed.current:
            log.info("session_not_claimed", session_id=session_id)
            return
        held = Held(self.name, session_id, claimed.attempt, claimed.autosave_case_id)
        running = Running(held, ControlChannel(self._acts(held),
                                               self.env.settings.agent_command),
                          lease_ttl_s=claimed.lease_ttl_s)
        self.sessions[session_id] = running
        running.task = asyncio.create_task(self._run(running, claimed), name=f"s-{session_id}")

    def _acts(self, held: Held) -> OwnerActs:
        def watch(job_id: str) -> None:
            running = self.sessions.get(held.session_id)
            if running is not None:
                running.jobs.add(job_id)

        return OwnerActs(held, self.backend, self.env.storage, watch=watch,
                         max_case_bytes=self.env.settings.max_case_mb * 1024 * 1024)

    async def _run(self, running: Running, claimed: Any) -> None:
        held = running.held
        with structlog.contextvars.bound_contextvars(session_id=held.session_id):
            if held.attempt > 1:  # a restart: what an earlier attempt left goes first
                await _settle(remove_earlier(self.env.pool, held.session_id, held.attempt))
            try:
                started = await launch(self.env, claimed, running.channel, running.containers,
                                       on_placed=running.place)
            except Exception as exc:  # anything but a LaunchError is the platform's fault
                failure = exc if isinstance(exc, LaunchError) else LaunchError("infrastructure")
                if (failure.reason in HOST_FAULT_REASONS
                        and await self._host_down(running, within_s=AGENT_END_RECHECK_S)):
                    await self._host_lost(running)
                    return
                if failure is not exc:
                    log.warning("session_launch_failed", error=repr(exc), exc_info=exc)
                await self._fail(running, failure.reason, failure.message)
                return
            await _settle(self.env.pool.refresh())
            if not await self._report_ready(running, started.host.name, started.endpoint):
                return
            running.ready = True
            await running.channel.closed.wait()
            if running.stopping:
                return
            if await self._host_down(running, within_s=AGENT_END_RECHECK_S):
                await self._host_lost(running)
                return
            log.warning("session_agent_ended", session_id=held.session_id)
            await self._forget(running)

    async def _tell(self, running: Running, report: Callable[[], Awaitable[bool]]) -> bool:
        """``report()`` (an idempotent one: ready, failed), retried while backend cannot be
        reached (broker or database down, a timeout) for up to the session's lease."""
        return await retry(report, what="session_report", deadline_s=running.lease_ttl_s,
                           retry_on=(Unavailable,), base_s=0.2)

    async def _report_ready(self, running: Running, host: str, endpoint: str) -> bool:
        try:
            current = await self._tell(running, lambda: self.backend.ready(running.held, host,
                                                                           endpoint))
        except ModelportError as exc:
            log.warning("session_ready_not_sent", error=exc.message)
            current = False
        if not current:
            await self._forget(running)
        return current

    async def _fail(self, running: Running, reason: str, message: str) -> None:
        log.info("session_failed", reason=reason, message=message)
        await self._forget(running)
        with contextlib.suppress(ModelportError):
            await self.backend.failed(running.held, reason, message)

    async def _forget(self, running: Running) -> None:
        """Drop the session: channel closed, containers removed, no more heartbeats."""
        self.sessions.pop(running.held.session_id, None)
        await _settle(running.channel.close())
        for container in running.containers:
            await _settle(remove(container))
        await _settle(self.env.pool.refresh())

    def stop(self, session_id: str, attempt: int, reason: str) -> None:
        """Autosave and stop the session in the background (idempotent)."""
        running = self.sessions.get(session_id)
        if running is None or running.held.attempt != attempt or running.stopping:
            return
        running.stopping = True
        task = asyncio.create_task(self._stop(running, reason), name=f"stop-{session_id}")
        self._stops.add(task)
        task.add_done_callback(self._stops.discard)

    async def _stop(self, running: Running, reason: str) -> None:
        timeout = self.env.settings.stop_timeout_s
        if running.task is not None and not running.ready:
            running.task.cancel()  # still starting: nothing to save
            await _settle(running.task)
        elif running.ready:
            with contextlib.suppress(ConnectionError):
                await running.channel.send(StopCommand(reason=reason))
            # the autosave's id is the one backend answered its save_case with (OwnerActs),
            # not what the agent's ``stopped`` line claims
            await running.channel.wait_stopped(timeout)
        await self._forget(running)
        try:
            await self.backend.stopped(running.held, reason)
        except ModelportError as exc:  # the lease settles it
            log.warning("session_stopped_not_sent", error=exc.message)
        log.info("session_stopped", session_id=running.held.session_id, reason=reason)

    async def job_news(self, data: dict[str, Any]) -> None:
        """Pass a ``modelport.job.*`` event's data to the session that submitted the job."""
        job_id = str(data.get("job_id", ""))
        for running in list(self.sessions.values()):
            if job_id not in running.jobs:
                continue
            if data.get("state") in TERMINAL_JOB_STATES:
                running.jobs.discard(job_id)
            event = JobEvent(job_id=job_id, state=data["state"], progress=data.get("fraction"),
                             message=data.get("message") or data.get("reason") or "")
            with contextlib.suppress(ConnectionError):
                await running.channel.send(event)

    async def _beat(self) -> None:
        while True:
            await _settle(self.beat_once())
            await asyncio.sleep(self.env.settings.report_interval_s)

    async def beat_once(self) -> None:
        """Report the held sessions (with the idle times last heard) and the hosts' load,
        apply the stops and the hosts an admin drained that backend answers with, and ask
        each ready agent again (in the background: a slow agent must not delay the heartbeat
        that keeps every lease)."""
        held = [HeldSession(session_id=r.held.session_id, attempt=r.held.attempt,
                            idle_s=r.idle_s) for r in self.sessions.values()]
        for running in list(self.sessions.values()):
            if running.ready and not running.stopping and not running.pinging:
                running.pinging = True
                task = asyncio.create_task(self._idle(running))
                self._stops.add(task)
                task.add_done_callback(self._stops.discard)
        try:
            reply = await self.backend.report(held, self.env.pool.loads())
        except ModelportError as exc:
            log.warning("session_report_not_sent", error=exc.message)
            return
        self.env.pool.set_admin_drained(reply.drained)
        for command in reply.stop:
            self.stop(command.session_id, command.attempt, command.reason)

    async def _idle(self, running: Running) -> None:
        try:
            pong = await running.channel.ping(PING_TIMEOUT_S)
        finally:
            running.pinging = False
        if pong is None:
            return
        running.idle_s = pong.idle_s
        s = self.env.settings
        if pong.idle_s >= s.idle_timeout_s:
            self.stop(running.held.session_id, running.held.attempt, "idle")
        elif pong.idle_s >= s.idle_timeout_s - s.idle_warning_s and not running.warned:
            running.warned = True
            left = max(int(s.idle_timeout_s - pong.idle_s), 0)
            with contextlib.suppress(ConnectionError):
                await running.channel.send(NoticeCommand(
                    level="warning", message=f"This session is idle and stops in {left} s "
                    "(your data is saved first). Use it to keep it open."))
        elif pong.idle_s < s.idle_timeout_s - s.idle_warning_s:
            running.warned = False

    async def close(self, grace_s: float) -> None:
        """Stop every session (autosave first) within ``grace_s``; end the heartbeat."""
        self._retired = True
        for running in list(self.sessions.values()):
            self.stop(running.held.session_id, running.held.attempt, "worker_stopped")
        if self._stops:
            _, late = await asyncio.wait(set(self._stops), timeout=grace_s)
            if late:
                log.warning("session_stops_cut", count=len(late))
                await cut(late)
        await cut([self._heartbeat])


async def _settle(work: Any) -> None:
    """Await ``work``; log and swallow its failure (clean-up must go on)."""
    try:
        await work
    except asyncio.CancelledError:
        if (task := asyncio.current_task()) is not None and task.cancelling():
            raise
    except Exception as exc:
        log.warning("session_cleanup_failed", error=repr(exc))
