"""How jobs end when they do not succeed, on the real platform: cancel while queued and
while running, time limit, memory limit, an exception in the app. Each ends in the right
state with the right reason, and no container under the test's label is left (docker ps -a).
Scenarios share one platform per test (publishing the real runtime takes a while)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.platform import Platform

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def _running_sleeper(p: Platform, **fields: object) -> str:
    """A 60 s sleeper job, returned once its first progress event arrived."""
    case_id = await p.upload_case("sleeper", {"seconds": 60.0, "step_s": 0.05})
    job = await p.submit("sleeper", "sleep", input_case_id=case_id, **fields)
    await p.event(job["id"], "progress")
    return str(job["id"])


async def test_cancel_while_queued_and_while_running(platform: Platform) -> None:
    p = platform
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    queued = await p.submit("transport", not_before=later)
    status, body = await p.call("POST", f"/api/v1/jobs/{queued['id']}/cancel")
    assert status == 200 and body["state"] == "cancelled", body
    done = await p.finished(queued["id"], timeout_s=10)
    assert (done["state"], done["attempt"], done["worker"]) == ("cancelled", 0, None)
    assert p.containers() == []

    running = await _running_sleeper(p)
    assert len(p.containers()) == 1
    status, body = await p.call("POST", f"/api/v1/jobs/{running}/cancel")
    assert status == 200, body
    done = await p.finished(running, timeout_s=5)  # killed and reported within seconds
    assert (done["state"], done["output_case_id"]) == ("cancelled", None)
    assert p.containers() == []


async def test_timeout_oom_and_app_exception_fail_with_their_reasons(platform: Platform) -> None:
    p = platform
    slow = await p.upload_case("sleeper", {"seconds": 60.0})
    job = await p.submit("sleeper", "sleep", input_case_id=slow, time_limit_s=2)
    done = await p.finished(job["id"])
    assert (done["state"], done["reason"]) == ("failed", "timeout"), done
    assert b"time limit" in (await p.call("GET", f"/api/v1/jobs/{job['id']}/log"))[1]
    assert p.containers() == []

    greedy = await p.upload_case("sleeper", {"megabytes": 600, "hold_s": 5.0})
    job = await p.submit("sleeper", "allocate", input_case_id=greedy, memory_mb=256)
    done = await p.finished(job["id"])
    assert (done["state"], done["reason"]) == ("failed", "oom"), done
    assert p.containers() == []

    broken = await p.upload_case("sleeper", {"message": "boom from the app"})
    job = await p.submit("sleeper", "fail", input_case_id=broken)
    done = await p.finished(job["id"])
    assert (done["state"], done["reason"]) == ("failed", "app_exception"), done
    status, log = await p.call("GET", f"/api/v1/jobs/{job['id']}/log")
    assert status == 200
    assert b"Traceback" in log and b"RuntimeError: boom from the app" in log
    assert p.containers() == []
    failed = [e for e in p.tap.of_type("modelport.job.failed")]
    assert sorted(e["data"]["reason"] for e in failed) == ["app_exception", "oom", "timeout"]
