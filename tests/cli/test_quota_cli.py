"""``modelport quota show|set|usage`` against a real stack: an admin sets and reads a user's
quotas, a refused submit prints the quota, usage prints as a table and as CSV; a user who is
not an admin is refused (status 1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from common.settings import S3Settings
from tests.cli.helpers import cli, signed_in
from tests.portal.jobs_support import WorkerDriver, jobs_stack
from tests.support.stack import Stack


@pytest.fixture
async def jobs(pg_dsn: str, amqp_url: str, s3_settings: S3Settings, tmp_path: Path,
               config_dir: Path, quiet_server_logs: None,
               ) -> AsyncIterator[tuple[Stack, WorkerDriver]]:
    async with jobs_stack(pg_dsn, amqp_url, s3_settings, tmp_path / "stack") as found:
        yield found


async def test_set_show_refuse_and_usage(jobs: tuple[Stack, WorkerDriver]) -> None:
    stack, _ = jobs
    alice_token = await stack.create_user("alice", "alice-password-1")
    admin, alice = signed_in(stack), signed_in(stack, alice_token)
    done = await cli("quota", "set", "--user", "alice", "--value", "queued_jobs=1", env=admin)
    assert done.exit_code == 0, done.output
    shown = await cli("quota", "show", "--user", "alice", env=admin)
    assert shown.exit_code == 0
    line = next(row for row in shown.stdout.splitlines() if row.startswith("queued_jobs"))
    assert line.split() == ["queued_jobs", "1", "user", "0"]
    assert (await cli("job", "submit", "transport", env=alice)).exit_code == 0
    refused = await cli("job", "submit", "transport", env=alice)
    assert refused.exit_code == 1
    assert "queued jobs: 1 of 1" in refused.stderr and "quota_exceeded" in refused.stderr
    usage = await cli("quota", "usage", "--csv", env=admin)
    assert usage.exit_code == 0
    assert usage.stdout.splitlines()[0] == "user,app,session_hours,job_cpu_seconds,sessions,jobs"
    bad = await cli("quota", "set", "--user", "alice", "--value", "queued=3", env=admin)
    assert bad.exit_code == 1 and "QUOTA=N" in bad.stderr
    forbidden = await cli("quota", "show", "--user", "alice", env=alice)
    assert forbidden.exit_code == 1 and "HTTP 403" in forbidden.stderr
