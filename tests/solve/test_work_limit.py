"""A job that writes more than its writable space (/work, ``MODELPORT_JOB_WORK_MB``) fails
with reason ``disk_full`` and says so in its log; nothing of it is left on the host."""

from __future__ import annotations

from typing import Any

import pytest

from tests.solve.conftest import Harness


@pytest.fixture
def solve_overrides() -> dict[str, Any]:
    return {"job_work_mb": 16}


async def test_writing_past_the_work_limit_fails_the_job_with_disk_full(
    harness: Harness,
) -> None:
    h = harness
    case = await h.case("sleeper", {"megabytes": 64})
    await h.run(h.job("sleeper", "scribble", input_case=case))
    done = await h.backend.finished()
    assert (done.outcome, done.reason, done.output_case) == ("failed", "disk_full", None)
    assert done.log is not None
    text = (await h.storage.read_bytes(done.log.s3_key)).decode()
    assert "No space left on device" in text
    assert "/work holds at most 16 MB" in text
    assert await h.containers() == []


async def test_writing_within_the_limit_succeeds(harness: Harness) -> None:
    h = harness
    case = await h.case("sleeper", {"megabytes": 4})
    await h.run(h.job("sleeper", "scribble", input_case=case))
    done = await h.backend.finished()
    assert (done.outcome, done.reason) == ("succeeded", None)
