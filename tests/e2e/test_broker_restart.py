"""RabbitMQ restarted while jobs run on the real platform: every job still ends succeeded.

The platform runs on a broker node of the test's own (tests/support/rabbit_instance.py),
stopped while sleeper jobs run and queue, then started again. Services reconnect (robust
connections); a worker whose reports could not get through has its lease lapse and the job
is queued again (lease 5 s here). What counts: none is lost — all succeed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from common.settings import S3Settings
from tests.e2e.platform import running_platform
from tests.e2e.runtime import E2ERuntime
from tests.support.rabbit_instance import RabbitInstance

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]
JOBS = 6


async def test_broker_restart_while_jobs_run_loses_none(
    own_broker: RabbitInstance, pg_dsn: str, s3_settings: S3Settings, tmp_path: Path,
    runtime: E2ERuntime, docker_engine: str, label: str,
) -> None:
    async with running_platform(pg_dsn, own_broker.url, s3_settings, tmp_path,
                                runtime=runtime, docker_url=docker_engine, label=label,
                                lease_ttl_s=5.0) as p:
        await p.start_worker("solve-a", slots=2)
        case_id = await p.upload_case("sleeper", {"seconds": 3.0, "step_s": 0.1})
        ids = [str((await p.submit("sleeper", "sleep", input_case_id=case_id))["id"])
               for _ in range(JOBS)]
        await p.event(ids[0], "progress")

        await asyncio.to_thread(own_broker.stop)
        await asyncio.to_thread(own_broker.start)

        jobs = await p.settled(ids, timeout_s=180)
        assert [j["state"] for j in jobs] == ["succeeded"] * JOBS, jobs
        attempts = sorted(j["attempt"] for j in jobs)
        print("attempts after the broker restart:", attempts)
        assert p.containers() == []
