"""Resume, not restart: a facility-location run lost mid-solve resumes from its checkpoint.

The real platform (backend, portal, PostgreSQL, RabbitMQ, S3, Docker, the runtime image):
the app saves every improving MIP solution with ``ctx.checkpoint``; the agent sends each as
a ``checkpoint`` line; the solve worker stores the newest in S3 under the attempt's key. The
worker running attempt 1 (a ``python -m solve_svc`` child) is killed with SIGKILL once a
checkpoint is stored; the lease (3 s) lapses, the job is re-queued, and the second worker
runs attempt 2 with that checkpoint in ``/work/start.json``: HiGHS gets it as its start
solution, the log says so (worker, agent and app lines), and the job ends at the optimum
an uninterrupted run of the same app finds (within the app's relative MIP gap).
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import pytest

from common.contracts.jobs import attempt_key
from common.errors import NotFound
from common.settings import S3Settings
from common.storage import S3Storage
from modelport.appkit import load_app, run
from tests.e2e.platform import result_case, running_platform
from tests.e2e.runtime import E2ERuntime
from tests.support.stack import EXAMPLES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


async def _checkpoint(s3: S3Settings, job_id: str, attempt: int,
                      timeout_s: float) -> dict[str, Any]:
    """The attempt's stored checkpoint, waiting up to ``timeout_s`` for the first one."""
    key = attempt_key(job_id, attempt, "checkpoint")
    async with S3Storage(s3) as storage, asyncio.timeout(timeout_s):
        while True:
            try:
                return dict(json.loads(await storage.read_bytes(key)))
            except NotFound:
                await asyncio.sleep(0.1)


def _uninterrupted_optimum() -> float:
    loaded = load_app(EXAMPLES / "facility-location")
    return float(run(loaded.app, "solve", None, on_log=lambda _: None)["total_cost"])


async def test_a_lost_facility_location_run_resumes_from_its_checkpoint(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path, runtime: E2ERuntime,
    docker_engine: str, label: str,
) -> None:
    async with running_platform(pg_dsn, amqp_url, s3_settings, tmp_path, runtime=runtime,
                                docker_url=docker_engine, label=label, lease_ttl_s=3.0) as p:
        doomed = await p.spawn_worker("solve-doomed", slots=2)  # most free slots: gets it
        await p.start_worker("solve-b", slots=1)
        job_id = (await p.submit("facility-location"))["id"]
        reference = asyncio.create_task(asyncio.to_thread(_uninterrupted_optimum))
        saved = await _checkpoint(p.stack.s3_settings, job_id, 1, timeout_s=300)
        assert (await p.job(job_id))["state"] == "running"
        assert saved["shape"] == [50, 250] and saved["open"] and saved["serve"]
        doomed.send_signal(signal.SIGKILL)
        assert await doomed.wait() == -signal.SIGKILL

        done = await p.finished(job_id, timeout_s=400)
        assert (done["state"], done["attempt"], done["worker"]) == ("succeeded", 2, "solve-b")
        status, log = await p.call("GET", f"/api/v1/jobs/{job_id}/log")
        assert status == 200
        text = log.decode()
        assert "resuming from the checkpoint of attempt 1" in text, text[-3000:]
        assert "starting from the checkpoint of an earlier attempt" in text
        assert "started from the checkpoint: incumbent" in text
        status, data = await p.call("GET", f"/api/v1/jobs/{job_id}/result")
        assert status == 200
        resumed = float(result_case(data).values("total_cost"))
        optimum = await reference
        assert abs(resumed - optimum) <= 1e-4 * abs(optimum), (resumed, optimum)
