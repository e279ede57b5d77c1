"""``modelport job …`` against a real backend + portal + S3, with a fake solve worker driving
the jobs by RPC: submit (default data, a case file, a case id), list, cancel, logs, result,
``--watch`` exit statuses, and the refusals (unknown app, bad options, no result yet)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from common.settings import S3Settings
from tests.cli.helpers import cli, signed_in
from tests.portal.jobs_support import WorkerDriver, jobs_stack, transport_case
from tests.portal.uploads import call
from tests.support.stack import Stack

# Built once: a case file carries its write time, so two builds a second apart differ.
RESULT = transport_case()

Jobs = tuple[Stack, WorkerDriver]


@pytest.fixture
async def jobs(
    pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path, config_dir: Path,
    quiet_server_logs: None,
) -> AsyncIterator[Jobs]:
    async with jobs_stack(pg_dsn, amqp_url, s3_settings, tmp_path / "stack") as found:
        yield found


async def test_submit_list_cancel_and_refusals(jobs: Jobs, tmp_path: Path) -> None:
    stack, _ = jobs
    env = signed_in(stack)
    submitted = await cli("job", "submit", "transport", "--priority", "2", env=env)
    assert submitted.exit_code == 0, submitted.output
    job_id = submitted.stdout.strip()
    listed = await cli("job", "list", "--json", env=env)
    assert [(j["id"], j["state"], j["priority"]) for j in json.loads(listed.stdout)] == [
        (job_id, "queued", 2)]
    table = await cli("job", "list", env=env)
    assert table.stdout.startswith("ID") and "queued" in table.stdout
    assert (await cli("job", "list", "--state", "cancelled", env=env)).stdout.strip() == "no jobs"

    out = tmp_path / "out.mpcase"
    for args, code in ((("result", job_id, "-o", str(out)), "not_succeeded"),
                       (("logs", job_id), "not_finished")):
        refused = await cli("job", *args, env=env)
        assert refused.exit_code == 1 and code in refused.stderr, refused.output
    assert not out.exists()

    cancelled = await cli("job", "cancel", job_id, env=env)
    assert cancelled.exit_code == 0 and cancelled.stdout.strip() == f"{job_id} cancelled"
    again = await cli("job", "cancel", job_id, env=env)
    assert again.exit_code == 1 and again.stderr.startswith("error: ")


async def test_bad_submissions_queue_nothing(jobs: Jobs, tmp_path: Path) -> None:
    stack, _ = jobs
    env = signed_in(stack)
    unknown = await cli("job", "submit", "nothing", env=env)
    assert unknown.exit_code == 1 and "HTTP 404" in unknown.stderr
    bad_priority = await cli("job", "submit", "transport", "--priority", "11", env=env)
    assert bad_priority.exit_code == 2
    case = tmp_path / "in.mpcase"
    case.write_bytes(transport_case())
    both = await cli("job", "submit", "transport", "--case", str(case), "--case-id", "x", env=env)
    assert both.exit_code == 2 and "not both" in both.stderr
    missing_case = await cli("job", "submit", "transport", "--case-id", "nope", env=env)
    assert missing_case.exit_code == 1, missing_case.output
    status, page = await call(stack, "GET", "/api/v1/jobs")
    assert page["total"] == 0
    anonymous = await cli("job", "list", env={"MODELPORT_URL": stack.portal_url})
    assert anonymous.exit_code == 3


async def test_submit_a_case_file_runs_on_it(jobs: Jobs, tmp_path: Path) -> None:
    stack, _ = jobs
    case = tmp_path / "week-12.mpcase"
    case.write_bytes(transport_case())
    submitted = await cli("job", "submit", "transport", "--case", str(case), env=signed_in(stack))
    assert submitted.exit_code == 0, submitted.output
    status, job = await call(stack, "GET", f"/api/v1/jobs/{submitted.stdout.strip()}")
    status, found = await call(stack, "GET", f"/api/v1/cases/{job['input_case_id']}")
    assert status == 200 and found["name"] == "week-12"


async def _run_next(driver: WorkerDriver, *, fail: bool = False) -> str:
    """Take the next job the scheduler hands out and run it to its end; its id."""
    await driver.worker.report(free=1)
    run = await driver.worker.wait_for(lambda m: m["_type"] == "job.run" and not m.get("_done"))
    run["_done"] = True
    job_id = str(run["job_id"])
    assert await driver.worker.started(job_id, run["attempt"])
    await driver.progress(job_id, 0.5, "half way")
    if fail:
        await driver.fail(job_id, "app_exception", log=b"Traceback\nValueError: bad data\n")
    else:
        await driver.succeed(job_id, output=RESULT, log=b"optimal 153.675\n")
    return job_id


async def test_watch_exits_0_on_success_then_result_and_logs(jobs: Jobs, tmp_path: Path) -> None:
    stack, driver = jobs
    env = signed_in(stack)
    watching = asyncio.create_task(cli("job", "submit", "transport", "--watch", env=env))
    job_id = await _run_next(driver)
    watched = await asyncio.wait_for(watching, 30)
    assert watched.exit_code == 0, watched.output
    assert watched.stdout.strip() == job_id and "job succeeded" in watched.stderr

    out = tmp_path / "result.mpcase"
    got = await cli("job", "result", job_id, "-o", str(out), env=env)
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == RESULT
    printed = await cli("job", "logs", job_id, env=env)
    assert printed.exit_code == 0 and printed.stdout == "optimal 153.675\n"
    followed = await cli("job", "logs", job_id, "-f", env=env)
    assert followed.exit_code == 0 and "optimal 153.675" in followed.stdout


async def test_watch_exits_1_when_the_job_fails(jobs: Jobs) -> None:
    stack, driver = jobs
    env = signed_in(stack)
    watching = asyncio.create_task(cli("job", "submit", "transport", "--watch", env=env))
    await _run_next(driver, fail=True)
    watched = await asyncio.wait_for(watching, 30)
    assert watched.exit_code == 1 and "error: job failed" in watched.stderr, watched.output
