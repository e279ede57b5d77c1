"""Two solve_svc replicas on one Docker host under one service label.

Each worker labels its containers with its own identity (OWNER ``solve/<instance>``): a
restart sweeps only its own, so the other replica's running job is left alone; a dead
replica's orphan is reclaimed by a live one once backend no longer leases its attempt.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from common.docker.spec import container_name
from common.settings import S3Settings
from tests.e2e.platform import Platform, running_platform
from tests.e2e.runtime import E2ERuntime

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def _until_containers(p: Platform, want: list[str], timeout_s: float = 30.0) -> None:
    """Polls ``docker ps`` (every 0.2 s) until the label's containers are ``want``."""
    async with asyncio.timeout(timeout_s):
        while True:
            if p.containers() == want:
                return
            await asyncio.sleep(0.2)


async def test_restarting_one_replica_leaves_the_others_running_job_alone(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path, runtime: E2ERuntime,
    docker_engine: str, label: str,
) -> None:
    # a lease long enough that a loaded machine's late heartbeat does not lose the kept job
    # (the fresh-clone run lost it with 3 s); the cut job waits it out before its re-run
    async with running_platform(pg_dsn, amqp_url, s3_settings, tmp_path, runtime=runtime,
                                docker_url=docker_engine, label=label, lease_ttl_s=10.0) as p:
        # Slots are the host's, shared by the replicas (each counts every container under
        # the label): solve-b, told 1, is full with one job; solve-a, told 2, takes the next.
        doomed = await p.spawn_worker("solve-b", slots=1)
        long = await p.upload_case("sleeper", {"seconds": 15.0, "step_s": 0.1})
        cut = (await p.submit("sleeper", "sleep", input_case_id=long))["id"]
        await p.event(cut, "progress")
        await p.start_worker("solve-a", slots=2)
        short = await p.upload_case("sleeper", {"seconds": 10.0, "step_s": 0.1})
        kept = (await p.submit("sleeper", "sleep", input_case_id=short))["id"]
        await p.event(kept, "progress")
        assert ((await p.job(kept))["worker"], (await p.job(cut))["worker"]) == (
            "solve-a", "solve-b")
        running = sorted([container_name("job", kept, 1), container_name("job", cut, 1)])
        assert p.containers() == running

        doomed.send_signal(signal.SIGKILL)
        assert await doomed.wait() == -signal.SIGKILL
        # the restart, same instance id: its start sweep removes its own orphan only
        await p.spawn_worker("solve-b", slots=1)
        left = p.containers()
        assert container_name("job", kept, 1) in left
        assert container_name("job", cut, 1) not in left

        done = await p.finished(kept, timeout_s=60)
        assert (done["state"], done["attempt"], done["worker"]) == ("succeeded", 1, "solve-a")
        rerun = await p.finished(cut, timeout_s=120)
        assert (rerun["state"], rerun["attempt"]) == ("succeeded", 2)
        kinds = [e["type"].rsplit(".", 1)[1] for e in p.events_of(kept)
                 if e["type"] != "modelport.job.progress"]
        assert "lost" not in kinds and kinds.count("started") == 1, kinds
        await _until_containers(p, [])


async def test_a_live_replica_reclaims_the_orphan_of_a_dead_one(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path, runtime: E2ERuntime,
    docker_engine: str, label: str,
) -> None:
    async with running_platform(pg_dsn, amqp_url, s3_settings, tmp_path, runtime=runtime,
                                docker_url=docker_engine, label=label, lease_ttl_s=3.0) as p:
        doomed = await p.spawn_worker("solve-doomed", slots=1)
        case_id = await p.upload_case("sleeper", {"seconds": 30.0, "step_s": 0.1})
        job_id = (await p.submit("sleeper", "sleep", input_case_id=case_id))["id"]
        await p.event(job_id, "progress")
        # a live replica that sees the other's running container leaves it alone ...
        survivor = await p.start_worker("solve-live", slots=0)
        assert survivor.worker is not None
        for _ in range(3):
            await survivor.worker.beat_once()
        orphan = container_name("job", job_id, 1)
        assert p.containers() == [orphan]
        assert (await p.job(job_id))["state"] == "running"

        doomed.send_signal(signal.SIGKILL)
        assert await doomed.wait() == -signal.SIGKILL
        # ... and removes it once backend's lease lapsed, long before the 30 s run would end
        await p.event(job_id, "lost", timeout_s=20)
        await _until_containers(p, [], timeout_s=10)
