"""One real job through the platform (backend, portal, a solve worker, a runtime container)
moves the series that describe it: the worker's warm-pool miss and its RPCs to backend, and
backend's job counts."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import label, platform, runtime  # noqa: F401
from tests.e2e.platform import Platform
from tests.metrics.support import sample_value, scrape

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
CLIENT = "modelport_rpc_client_duration_seconds"
ACQUIRED = "modelport_warm_pool_acquisitions"


async def test_a_job_moves_the_series_of_solve_and_backend(
    platform: Platform,  # noqa: F811
) -> None:
    p = platform
    worker = p.workers[0]
    solve_url = f"http://127.0.0.1:{worker.status_port}/metrics"
    before = await scrape(solve_url)

    job = await p.submit("transport")
    assert (await p.finished(job["id"]))["state"] == "succeeded"

    after = await scrape(solve_url)
    for outcome, moved in (("miss", 1), ("hit", 0)):  # this worker keeps no warm pool
        assert (sample_value(after, ACQUIRED, "_total", host="local", outcome=outcome)
                == sample_value(before, ACQUIRED, "_total", host="local", outcome=outcome)
                + moved), outcome
    for method in ("jobs.started", "jobs.finished"):
        labels = {"server": "backend.rpc", "method": method, "outcome": "ok"}
        assert (sample_value(after, CLIENT, "_count", **labels)
                == sample_value(before, CLIENT, "_count", **labels) + 1), method
    assert sample_value(after, "modelport_docker_host_containers", host="local") == 0

    status = p.stack.backend.status
    assert status is not None
    backend = await scrape(f"http://127.0.0.1:{status.port}/metrics")  # first scrape: full
    jobs = {s.labels["state"]: s.value for s in backend["modelport_jobs"].samples}
    assert jobs["succeeded"] == 1 and sum(jobs.values()) == 1, jobs
