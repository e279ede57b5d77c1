"""SessionService in process, with a platform fake (a subclass of the real interface) that
drives orderings the real channel rarely shows: job news that beats the submit reply, two
Solve presses at once."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from pydantic import BaseModel

from modelport.agent.session.data import SessionData
from modelport.agent.session.platform import Platform
from modelport.agent.session.service import Busy, SessionService
from modelport.agent.session_protocol import JobEvent, encode_content
from modelport.appkit import load_app, run, save_case
from tests.agent.support import EXAMPLES


class EagerPlatform(Platform):
    """Announces a job's success before it even answers ``submit_job``."""

    def __init__(self, result: bytes, final: str = "succeeded") -> None:
        super().__init__()
        self.result = result
        self.final = final
        self.submitted = 0
        self.release = asyncio.Event()

    async def call(self, method: str, params: BaseModel) -> dict[str, Any]:
        if method == "submit_job":
            self.submitted += 1
            job_id = f"j{self.submitted}"
            await self.job_event(JobEvent(job_id=job_id, state="running", progress=0.5))
            await self.job_event(JobEvent(job_id=job_id, state=self.final, progress=1.0))
            await self.release.wait()
            return {"job_id": job_id}
        assert method == "fetch_result"
        return {"content": encode_content(self.result)}


def transport_result() -> bytes:
    loaded = load_app(EXAMPLES / "transport")
    data = loaded.app.default_data()
    buffer = io.BytesIO()
    save_case(loaded.app, buffer, {**data, **run(loaded.app, "solve", data)})
    return buffer.getvalue()


def session(platform: Platform) -> SessionService:
    loaded = load_app(EXAMPLES / "transport")
    return SessionService(loaded, SessionData(loaded.app), platform, autosave_s=0)


async def test_job_news_that_beats_the_submit_reply_is_kept_and_the_result_loaded() -> None:
    platform = EagerPlatform(transport_result())
    service = session(platform)
    platform.release.set()
    job = await asyncio.wait_for(service.submit("solve"), 10)
    assert job.state == "succeeded" and job.loaded and job.over
    assert service.data.results["total_cost"] == pytest.approx(153.675)


async def test_two_solve_presses_at_once_submit_one_job() -> None:
    platform = EagerPlatform(transport_result(), final="running")
    service = session(platform)
    first = asyncio.create_task(service.submit("solve"))
    second = asyncio.create_task(service.submit("solve"))
    await asyncio.sleep(0)  # both presses reach the service before the platform answers
    platform.release.set()
    job = await asyncio.wait_for(first, 10)
    with pytest.raises(Busy, match="still running"):
        await asyncio.wait_for(second, 10)
    assert platform.submitted == 1 and job.state == "running" and not job.over
