"""Jobs submitted by a session: as its owner, with their news passed to the agent and the
result fetched through the control channel."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest

from modelport.appkit import load_app, save_case
from tests.e2e.platform import result_case
from tests.sessions.platform import SessionPlatform
from tests.sessions.test_session_worker import through, user

pytestmark = pytest.mark.timeout(240)


def probe_case(tmp: Path, demand: float) -> bytes:
    loaded = load_app(tmp / "probe")
    values: dict[str, Any] = loaded.app.default_data()
    values["demand"] = {**values["demand"], "new-york": demand}
    path = tmp / "input.mpcase"
    save_case(loaded.app, path, values)
    return path.read_bytes()


async def test_a_session_submits_a_job_follows_it_and_fetches_its_result(
    sessions: SessionPlatform, tmp_path: Path,
) -> None:
    await sessions.platform.start_worker("solve-a")
    alice = await user(sessions, "alice")
    session = await sessions.ready(token=alice)
    status, submitted, _ = await through(sessions, "POST", session["id"], "submit?procedure=solve",
                                         alice, data=probe_case(tmp_path, 350.0))
    assert status == 200 and "job_id" in submitted, submitted
    job_id = submitted["job_id"]
    async with asyncio.timeout(90):
        while True:
            _, news, _ = await through(sessions, "GET", session["id"], "jobs", alice)
            if any(n["state"] in ("succeeded", "failed") for n in news):
                break
            await asyncio.sleep(0.2)
    assert [n["job_id"] for n in news] == [job_id] * len(news)
    assert news[-1]["state"] == "succeeded", news
    status, job = await sessions.call("GET", f"/api/v1/jobs/{job_id}", alice)
    assert job["user"] == "alice" and job["app"] == "probe"
    status, result, _ = await through(sessions, "GET", session["id"],
                                      f"ask?method=fetch_result&job_id={job_id}", alice)
    assert status == 200 and "content" in result, result
    solved = result_case(base64.b64decode(result["content"]))
    assert solved.values("demand")["new-york"] == 350.0
    assert solved.values("total_cost") > 153.675  # more demand costs more
    status, refused, _ = await through(sessions, "GET", session["id"],
                                       "ask?method=fetch_result&job_id=nope", alice)
    assert refused == {"error": {"code": "not_found", "message": "job not found"}}
