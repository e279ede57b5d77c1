"""session_svc's side of a host failure: the worker hands back the sessions of a host its
pool marks down, at once (also one placed there whose image is still loading; a report the
broker refuses is retried), and leaves the others alone.

A real HostPool over two real engines: the main one (host ``a``) and a second dockerd (host
``b``, tests/ha/engine.py) that is killed. A real :class:`SessionWorker` holds one session on
each host (stand-in containers: the worker only needs to know where each runs); its backend
link is a subclass of the real one that records what it would send. Backend's answer to
that report (restart from the autosave) is tested in tests/ha/test_session_restart.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from common.contracts.sessions import SessionWorkerReply
from common.docker import Container, DockerSettings, HostConfig, HostPool
from common.errors import BrokerUnavailable
from common.packages import TrustedKeys
from session_svc.backend import BackendLink, Held
from session_svc.control import ControlChannel
from session_svc.launch import Env, LaunchError
from session_svc.network import SessionNetworks
from session_svc.settings import SessionSettings
from session_svc.worker import Running, SessionWorker
from tests.ha.engine import engine
from tests.support.poll import until

pytestmark = pytest.mark.timeout(180)


class RecordingBackend(BackendLink):
    """The real link's interface; records reports instead of sending them."""

    def __init__(self) -> None:
        super().__init__(rpc=None, worker="s1")  # type: ignore[arg-type]
        self.failed_calls: list[tuple[str, int, str, str]] = []
        self.reported = asyncio.Event()
        self.refused: set[str] = set()

    async def failed(self, held: Held, reason: str, message: str) -> bool:
        if held.session_id not in self.refused:  # the broker is restarting: the first fails
            self.refused.add(held.session_id)
            raise BrokerUnavailable(detail="reconnecting")
        self.failed_calls.append((held.session_id, held.attempt, reason, message))
        if len(self.failed_calls) == 2:
            self.reported.set()
        return True

    async def report(self, sessions: Any) -> SessionWorkerReply:
        return SessionWorkerReply(stop=[])


def _running(worker: SessionWorker, pool: HostPool, host: str, session_id: str) -> Running:
    held = Held("s1", session_id, 1)
    running = Running(held, ControlChannel(lambda *_: None))  # type: ignore[arg-type,return-value]
    if session_id.startswith("loading"):  # placed, its image still loading: no container yet
        running.place(host)
    else:
        running.containers.append(Container(pool.host(host), "0" * 64,
                                            f"mp-session-{session_id}-1", f"mp-vol-{session_id}"))
        running.ready = True
    running.task = asyncio.create_task(running.channel.closed.wait())  # as _run waits
    worker.sessions[session_id] = running
    return running


def _hosts_a_and_b(main_url: str, b_url: str) -> DockerSettings:
    """Host a on the main engine, b on the second one; fast health checks."""
    return DockerSettings(hosts=[HostConfig(name="a", url=main_url),
                                 HostConfig(name="b", url=b_url)],
                          service="mp-test-none", health_interval_s=0.2, ping_timeout_s=1.0)


def _env(pool: HostPool, networks: SessionNetworks) -> Env:
    """What the worker needs here: the pool and the networks (no warm pools, no storage)."""
    return Env(pool, {}, None, None, SessionSettings(report_interval_s=60),  # type: ignore[arg-type]
               TrustedKeys(), networks)


async def test_sessions_of_a_failed_host_are_handed_back_at_once(docker_engine: str) -> None:
    with engine() as b:
        async with HostPool(_hosts_a_and_b(docker_engine, b.url)) as pool:
            backend = RecordingBackend()
            env = _env(pool, SessionNetworks("unused", firewall=False))
            worker = SessionWorker("s1", env, backend)
            worker.begin()
            on_a = _running(worker, pool, "a", "on-a")
            on_b = _running(worker, pool, "b", "on-b")
            loading = _running(worker, pool, "b", "loading-on-b")
            try:
                b.fail()
                await asyncio.wait_for(backend.reported.wait(), timeout=30)
                await asyncio.sleep(0)  # let the hand-back finish its clean-up
                assert sorted(backend.failed_calls) == [
                    (name, 1, "host_down", "Docker host b failed")
                    for name in ("loading-on-b", "on-b")]
                assert list(worker.sessions) == ["on-a"]
                for lost in (on_b, loading):
                    assert lost.channel.closed.is_set() and lost.task is not None
                    await asyncio.gather(lost.task, return_exceptions=True)
                    assert lost.task.cancelled()
                assert not on_a.channel.closed.is_set()
                assert not pool.healthy("b") and pool.healthy("a")
            finally:
                assert on_a.task is not None
                on_a.task.cancel()
                await worker.close(1.0)


async def test_a_host_back_from_down_gets_its_sessions_network_again(docker_engine: str) -> None:
    """The network is made ready once per host; a host that was down may come back without
    it (rebuilt, rebooted): the worker forgets it on the way down and makes it again before
    the next launch there, instead of launching into a network that is not there."""
    with engine() as b:
        async with HostPool(_hosts_a_and_b(docker_engine, b.url)) as pool:
            networks = SessionNetworks("mp-test-sessions-net", firewall=False)
            env = _env(pool, networks)
            worker = SessionWorker("s1", env, RecordingBackend())
            worker.begin()
            try:
                await networks.ready(pool.host("b"))
                assert networks.is_ready("b")
                b.fail()
                await until(lambda: not pool.healthy("b"), 30, what="host b marked down")
                assert not networks.is_ready("b")
                await asyncio.to_thread(b.start)
                await until(lambda: pool.healthy("b"), 60, what="host b back")
                host_b = pool.host("b")
                await (await host_b.docker.networks.get(networks.network)).delete()  # rebuilt
                await networks.ready(host_b)
                info = await (await host_b.docker.networks.get(networks.network)).show()
                assert info["Internal"] is True and networks.is_ready("b")
            finally:
                await worker.close(1.0)


async def test_a_launch_failed_by_its_host_going_away_is_handed_back_not_failed(
    docker_engine: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A host shut down gracefully kills the containers starting on it (the launch fails as
    ``infrastructure``) a moment before its API goes: the worker waits for that, reports
    ``host_down`` (backend restarts the session elsewhere), not a failed session. A launch
    failing so on a host that stays up is a failed session."""
    with engine() as b:
        async with HostPool(_hosts_a_and_b(docker_engine, b.url)) as pool:
            backend = RecordingBackend()
            backend.refused |= {"starting-on-b", "starting-on-a"}  # no broker trouble here
            worker = SessionWorker("s1", _env(pool, SessionNetworks("unused", firewall=False)),
                                   backend)
            worker.begin()

            async def failing_launch(env: Env, claimed: Any, channel: Any, hold: Any,
                                     on_placed: Any) -> Any:
                on_placed(claimed.host)
                if claimed.host == "b":  # its API goes a second after the container died
                    asyncio.get_running_loop().call_later(1.0, b.fail)
                raise LaunchError("infrastructure", "the agent ended before it was ready")

            monkeypatch.setattr("session_svc.worker.launch", failing_launch)
            try:
                for host in ("b", "a"):
                    held = Held("s1", f"starting-on-{host}", 1)
                    running = Running(held, ControlChannel(lambda *_: None))  # type: ignore[arg-type,return-value]
                    worker.sessions[held.session_id] = running
                    claimed = type("Claimed", (), {"host": host})()
                    await asyncio.wait_for(worker._run(running, claimed), 30)
                assert backend.failed_calls == [
                    ("starting-on-b", 1, "host_down", "Docker host b failed"),
                    ("starting-on-a", 1, "infrastructure",
                     LaunchError("infrastructure").message)]
                assert worker.sessions == {}
            finally:
                await worker.close(1.0)
