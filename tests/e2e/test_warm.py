"""Jobs in warm containers on the real platform: the container's main process is the
preloaded agent (``serve``), handed its run through stdin. Success (result, lineage, log),
an app exception and the time limit end as they do in a fresh container; every warm
container serves one job and none is left once the worker stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiodocker
import pytest

from common.settings import S3Settings
from modelport.agent.protocol import SERVE_PROTOCOL
from solve_svc.service import SolveService
from tests.e2e.platform import Platform, result_case, running_platform
from tests.e2e.runtime import E2ERuntime

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
async def warm_platform(pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path,
                        runtime: E2ERuntime, docker_engine: str,
                        label: str) -> AsyncIterator[tuple[Platform, SolveService]]:
    async with running_platform(pg_dsn, amqp_url, s3_settings, tmp_path, runtime=runtime,
                                docker_url=docker_engine, label=label) as found:
        worker = await found.start_worker("solve-w", warm=1)
        yield found, worker


async def _filled(p: Platform, worker: SolveService, protocol: int = SERVE_PROTOCOL) -> None:
    """Wait for the idle container; it is a waiting agent, so the next job runs in it."""
    pool = next(iter(worker._warm.values()))
    await asyncio.wait_for(pool.wait_filled(p.runtime.version), 60)
    idle = pool._runtimes[p.runtime.version].idle
    assert [(c.serving, c.serve_protocol) for c in idle] == [(True, protocol)]
    work = await docker_volume(p, idle[0].volume)
    # protocol 2 sends the result before the agent exits: /work is a tmpfs again
    assert (work.get("Options") or {}).get("type") == ("tmpfs" if protocol >= 2 else None)


async def docker_volume(p: Platform, name: str) -> dict[str, Any]:
    async with aiodocker.Docker(url=p.docker_url) as docker:
        return dict(await (await docker.volumes.get(name)).show())


async def _log(p: Platform, job_id: str) -> bytes:
    status, log = await p.call("GET", f"/api/v1/jobs/{job_id}/log")
    assert status == 200
    return bytes(log)


async def test_warm_jobs_succeed_and_fail_as_in_fresh_containers(
    warm_platform: tuple[Platform, SolveService],
) -> None:
    p, worker = warm_platform
    first = await p.submit("transport")  # the pool learns the runtime from its first job
    assert (await p.finished(first["id"]))["state"] == "succeeded"
    await _filled(p, worker)

    case_id = await p.upload_case("transport", {"freight": 90.0})
    job = await p.submit("transport", input_case_id=case_id, options={"note": "warm"})
    done = await p.finished(job["id"])
    assert (done["state"], done["reason"]) == ("succeeded", None), done
    log = await _log(p, job["id"])
    assert b"agent started" in log and b"Optimal" in log
    status, data = await p.call("GET", f"/api/v1/jobs/{job['id']}/result")
    case = result_case(data)
    assert case.values("total_cost") == pytest.approx(153.675)
    lineage = case.metadata["lineage"]
    assert lineage["options"] == {"note": "warm"} and lineage["input"]["sha256"]
    assert lineage["runtime"]["digest"] == p.runtime.image_id
    await _filled(p, worker)

    broken = await p.upload_case("sleeper", {"message": "boom from the app"})
    job = await p.submit("sleeper", "fail", input_case_id=broken)
    done = await p.finished(job["id"])
    assert (done["state"], done["reason"]) == ("failed", "app_exception"), done
    assert b"RuntimeError: boom from the app" in await _log(p, job["id"])
    await _filled(p, worker)

    slow = await p.upload_case("sleeper", {"seconds": 60.0})
    job = await p.submit("sleeper", "sleep", input_case_id=slow, time_limit_s=2)
    done = await p.finished(job["id"])
    assert (done["state"], done["reason"]) == ("failed", "timeout"), done
    assert [n for n in p.containers() if n.startswith("mp-job-")] == []
    await worker.stop()
    p.workers.remove(worker)
    assert p.containers() == []


async def test_a_runtime_whose_agent_lacks_protocol_2_runs_warm_jobs_through_the_archive_api(
    warm_platform: tuple[Platform, SolveService],
) -> None:
    """An older runtime image has no serve-protocol label: its warm containers keep /work on
    a disk volume, get the inputs by put_archive and give the result by copy-out."""
    p, worker = warm_platform
    for pool in worker._warm.values():
        pool._protocol_label = "org.modelport.test.absent"  # read as an image without it
    first = await p.submit("transport")
    assert (await p.finished(first["id"]))["state"] == "succeeded"
    await _filled(p, worker, protocol=1)
    case_id = await p.upload_case("transport", {"freight": 90.0})
    job = await p.submit("transport", input_case_id=case_id)
    done = await p.finished(job["id"])
    assert (done["state"], done["reason"]) == ("succeeded", None), done
    status, data = await p.call("GET", f"/api/v1/jobs/{job['id']}/result")
    assert result_case(data).values("total_cost") == pytest.approx(153.675)
