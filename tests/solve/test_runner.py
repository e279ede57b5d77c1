"""solve_svc end to end on the real Docker engine, RabbitMQ and S3, with a backend double."""

from __future__ import annotations

import asyncio
import io

import pytest

from common.contracts.jobs import (
    JobFinished,
    JobProgress,
    JobStarted,
    StopJob,
    WorkerReport,
    attempt_key,
)
from common.docker import ContainerRequest, Limits, create_started, remove
from common.docker.spec import Kind
from modelport.case import read_case
from solve_svc.reclaim import Reclaimer, owner_of
from tests.solve.conftest import Harness
from tests.solve.support import job_id

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def _text(h: Harness, key: str) -> str:
    return (await h.storage.read_bytes(key)).decode()


def _progress(h: Harness) -> list[JobProgress]:
    return [c for c in h.backend.of(JobProgress) if isinstance(c, JobProgress)]


def _assert_in_order(progress: list[JobProgress]) -> None:
    fractions = [p.fraction or 0.0 for p in progress]
    assert fractions == sorted(fractions)


async def test_transport_succeeds_with_result_log_and_progress(harness: Harness) -> None:
    h = harness
    job = h.job("transport", "solve", options={"priority": 3})
    await h.run(job)
    done = await h.backend.finished()
    assert (done.outcome, done.reason, done.interrupted) == ("succeeded", None, False)
    assert done.output_case is not None and done.log is not None
    # the keys backend keeps on the job and the portal reads: the shared per-attempt ones
    assert done.output_case.s3_key == attempt_key(job.job_id, job.attempt, "result")
    assert done.log.s3_key == attempt_key(job.job_id, job.attempt, "log")
    case = read_case(io.BytesIO(await h.storage.read_bytes(done.output_case.s3_key)))
    assert case.values("total_cost") == pytest.approx(153.675)
    assert done.lineage["app"] == {"name": "transport", "version": "1.0.0"}
    assert done.lineage["options"] == {"priority": 3}
    assert done.lineage["runtime"]["digest"] == job.runtime_image_digest
    assert "Optimal" in await _text(h, done.log.s3_key)
    progress = _progress(h)
    assert progress and progress[-1].fraction == 1.0
    assert progress[-1].incumbent == pytest.approx(153.675)
    _assert_in_order(progress)
    about_job = [c for c in h.backend.calls if not isinstance(c, WorkerReport)]
    assert isinstance(about_job[0], JobStarted) and about_job[-1] == done
    assert len(h.backend.of(JobStarted)) == 1 and len(h.backend.of(JobFinished)) == 1
    assert await h.containers() == []


async def test_facility_location_progress_in_order(harness: Harness) -> None:
    h = harness
    case = await h.case("facility-location", {}, generate={
        "n_facilities": 15, "n_customers": 60, "seed": 3})
    await h.run(h.job("facility-location", "solve", input_case=case))
    done = await h.backend.finished()
    assert done.outcome == "succeeded", done
    progress = _progress(h)
    assert len(progress) >= 2 and progress[-1].fraction == 1.0
    _assert_in_order(progress)
    assert done.lineage["input"]["sha256"] == case.sha256
    assert await h.containers() == []


async def _running_sleeper(h: Harness, **data: float) -> str:
    """Start a 60 s sleeper job and return its id once it reports progress."""
    case = await h.case("sleeper", {"seconds": 60.0, "step_s": 0.05, **data})
    job = h.job("sleeper", "sleep", input_case=case)
    await h.run(job)
    await h.backend.wait_for(JobProgress)
    return job.job_id


async def test_cancel_kills_within_two_seconds(harness: Harness) -> None:
    h = harness
    job_id = await _running_sleeper(h)
    assert len(await h.containers()) == 1
    await h.run(StopJob(job_id=job_id, attempt=1, mode="cancel"))
    done = await h.backend.finished(timeout_s=2.0)  # kill, remove and report inside 2 s
    assert (done.outcome, done.output_case) == ("cancelled", None)
    assert await h.containers() == []


async def test_interrupt_keeps_the_best_solution(harness: Harness) -> None:
    h = harness
    job_id = await _running_sleeper(h)
    await h.run(StopJob(job_id=job_id, attempt=1, mode="interrupt"))
    done = await h.backend.finished(timeout_s=30)
    assert (done.outcome, done.interrupted) == ("succeeded", True)
    assert done.output_case is not None and done.lineage["interrupted"] is True
    case = read_case(io.BytesIO(await h.storage.read_bytes(done.output_case.s3_key)))
    assert case.values("status") == "interrupted"
    assert await h.containers() == []


async def test_time_limit_fails_with_timeout(harness: Harness) -> None:
    h = harness
    case = await h.case("sleeper", {"seconds": 60.0})
    await h.run(h.job("sleeper", "sleep", input_case=case, time_limit_s=2))
    done = await h.backend.finished()
    assert (done.outcome, done.reason, done.output_case) == ("failed", "timeout", None)
    assert done.log is not None and "time limit" in await _text(h, done.log.s3_key)
    assert await h.containers() == []


async def test_memory_limit_fails_with_oom(harness: Harness) -> None:
    h = harness
    case = await h.case("sleeper", {"megabytes": 600, "hold_s": 5.0})
    await h.run(h.job("sleeper", "allocate", input_case=case, memory_mb=256))
    done = await h.backend.finished()
    assert (done.outcome, done.reason) == ("failed", "oom")
    assert await h.containers() == []


async def test_app_exception_fails_with_traceback_in_log(harness: Harness) -> None:
    h = harness
    case = await h.case("sleeper", {"message": "boom from the app"})
    await h.run(h.job("sleeper", "fail", input_case=case))
    done = await h.backend.finished()
    assert (done.outcome, done.reason) == ("failed", "app_exception")
    assert done.log is not None
    text = await _text(h, done.log.s3_key)
    assert "Traceback" in text and "RuntimeError: boom from the app" in text
    assert await h.containers() == []


async def test_stale_attempt_runs_nothing(harness: Harness) -> None:
    h = harness
    h.backend.current = False
    await h.run(h.job("transport", "solve"))
    await h.backend.wait_for(JobStarted)
    assert h.service.worker is not None
    assert await h.service.worker.wait_idle(10.0)
    assert await h.containers() == []
    assert h.backend.of(JobFinished) == [] and h.backend.of(JobProgress) == []


async def test_heartbeat_lists_the_running_attempt_and_applies_stops(harness: Harness) -> None:
    h = harness
    job_id = await _running_sleeper(h)
    async with asyncio.timeout(10), h.backend.changed:
        await h.backend.changed.wait_for(lambda: any(
            isinstance(r, WorkerReport) and (job_id, 1) in r.running
            for r in h.backend.of(WorkerReport)))
    report = h.backend.of(WorkerReport)[-1]
    assert isinstance(report, WorkerReport) and report.slots_total >= 1
    h.backend.stops.append(StopJob(job_id=job_id, attempt=1, mode="cancel"))
    done = await h.backend.finished(timeout_s=10)
    assert done.outcome == "cancelled"
    assert await h.containers() == []


async def test_shutdown_cuts_a_running_attempt_and_reports_nothing(harness: Harness) -> None:
    h = harness
    await _running_sleeper(h)
    h.service.settings.shutdown_grace_s = 0.2
    await h.service.stop()
    assert h.backend.of(JobFinished) == []
    assert await h.containers() == []


async def test_start_sweeps_only_its_own_containers(harness: Harness) -> None:
    h = harness
    assert h.service.pool is not None
    host = h.service.pool.hosts[0]
    image = h.blobs.runtime.image_id
    own = owner_of(h.service.instance)

    def request(kind: Kind, owner: str) -> ContainerRequest:
        return ContainerRequest(host.service, kind, job_id(), 1, "test", image,
                                ["sleep", "infinity"], Limits(memory_mb=64), owner=owner)

    mine = [await create_started(host, request(k, own)) for k in ("job", "warm")]
    others = [await create_started(host, request("job", owner_of("another-replica"))),
              await create_started(host, request("job", "")),
              await create_started(host, request("session", ""))]
    try:
        await Reclaimer(h.service.pool, h.service.instance).sweep_own()
        names = sorted(str(c["Names"][0]).lstrip("/") for c in await h.containers())
        assert names == sorted(c.name for c in others)
    finally:
        for container in mine + others:
            await remove(container)
