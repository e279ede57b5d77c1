"""Failover on the real platform: a solve_svc killed with SIGKILL while it runs a job.

The doomed worker is a ``python -m solve_svc`` child process; a second worker (in-process)
is already running. Backend's lease (3 s here) lapses, the reaper marks the job lost and
queues it again, the second worker runs it, and the job succeeds exactly once.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from common.docker.spec import container_name
from common.settings import S3Settings
from tests.e2e.platform import running_platform
from tests.e2e.runtime import E2ERuntime

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_kill_9_reruns_the_job_elsewhere_and_it_succeeds_once(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path, runtime: E2ERuntime,
    docker_engine: str, label: str,
) -> None:
    async with running_platform(pg_dsn, amqp_url, s3_settings, tmp_path, runtime=runtime,
                                docker_url=docker_engine, label=label, lease_ttl_s=3.0) as p:
        doomed = await p.spawn_worker("solve-doomed", slots=2)  # most free slots: gets the job
        survivor = await p.start_worker("solve-b", slots=1)
        case_id = await p.upload_case("sleeper", {"seconds": 4.0, "step_s": 0.1})
        job_id = (await p.submit("sleeper", "sleep", input_case_id=case_id))["id"]
        await p.event(job_id, "progress")
        assert (await p.job(job_id))["worker"] == "solve-doomed"
        orphan = container_name("job", job_id, 1)
        assert p.containers() == [orphan]

        doomed.send_signal(signal.SIGKILL)
        assert await doomed.wait() == -signal.SIGKILL

        done = await p.finished(job_id, timeout_s=60)
        assert (done["state"], done["attempt"], done["worker"]) == ("succeeded", 2, "solve-b")
        lost = await p.event(job_id, "lost")
        assert lost["data"]["attempt"] == 1
        # Sentinel: the relay publishes in commit order, so once an event committed after the
        # success is here, a second "succeeded" would have arrived before it.
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        sentinel = await p.submit("transport", not_before=later)
        await p.event(sentinel["id"], "queued")
        kinds = [e["type"].rsplit(".", 1)[1] for e in p.events_of(job_id)
                 if e["type"] != "modelport.job.progress"]
        assert kinds.count("succeeded") == 1 and kinds.count("started") == 2, kinds
        assert kinds[-1] == "succeeded"

        # The killed worker's container outlives it, but not for long: solve-b sees it on
        # the shared host, and once backend no longer leases attempt 1 (the job moved on)
        # its report's reply names it an orphan and solve-b removes it, freeing the slot.
        async with asyncio.timeout(10):
            while True:
                if not p.containers():
                    break
                await asyncio.sleep(0.2)
        assert survivor.pool is not None
        await survivor.pool.refresh()
        assert [(s.used_slots, s.free_slots) for s in survivor.pool.states()] == [(0, 1)]
