"""One data session: its data, the platform it asks, its open pages, its current job.

``SessionService`` is what the HTTP handlers call. Every change of the data happens under
one lock, raises ``revision`` and is announced to the pages (``data_changed``); a solve
submits a job of the current inputs and loads the job's results when it succeeds; autosave
runs every ``autosave_s`` seconds when something changed since the last one, and on stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from modelport.agent.session.data import SessionData
from modelport.agent.session.live import LiveHub
from modelport.agent.session.platform import Platform, PlatformError
from modelport.agent.session_protocol import (
    JobEvent,
    SaveCaseParams,
    SubmitJobParams,
    decode_content,
    encode_content,
)
from modelport.appkit import LoadedApp, load_case, run

AUTOSAVE_NAME = "autosave"
MAX_EARLY_JOBS = 8


class Busy(Exception):
    """The session cannot do that now (a job runs already); the API answers 409."""

    code = "busy"


@dataclass
class CaseRef:
    """The platform case the session's data came from or was last saved as."""

    case_id: str | None = None
    name: str | None = None


@dataclass
class JobStatus:
    job_id: str
    procedure: str
    state: str = "queued"
    progress: float = 0.0
    message: str = ""
    incumbent: float | None = None
    loaded: bool = False
    error: str = ""

    @property
    def over(self) -> bool:
        """Nothing more will happen to it: loaded, failed to load, failed or cancelled."""
        return self.loaded or bool(self.error) or self.state in ("failed", "cancelled")


class SessionService:
    """A session's state and the operations the WebUI and the host ask for."""

    def __init__(self, loaded: LoadedApp, data: SessionData, platform: Platform, *,
                 autosave_s: float, case: CaseRef | None = None,
                 autosave_case_id: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.loaded = loaded
        self.data = data
        self.platform = platform
        self.autosave_s = autosave_s
        self.case = case or CaseRef()
        self.autosave_case_id = autosave_case_id
        self.hub = LiveHub()
        self.job: JobStatus | None = None
        self._lock = asyncio.Lock()
        self._submitting = asyncio.Lock()
        self._early: dict[str, list[JobEvent]] = {}
        self._clock = clock
        self._last_activity = clock()
        self._saved_revision = data.revision
        self._autosaved_revision = data.revision
        platform.on_job = self.on_job

    # -- state --------------------------------------------------------------------------

    def touch(self) -> None:
        """Note that a page asked something (the host's idle time restarts)."""
        self._last_activity = self._clock()

    @property
    def idle_s(self) -> float:
        return self._clock() - self._last_activity

    @property
    def dirty(self) -> bool:
        """Changes since the case was opened or saved."""
        return self.data.revision != self._saved_revision

    @property
    def needs_autosave(self) -> bool:
        return self.data.revision != self._autosaved_revision

    def status(self) -> dict[str, Any]:
        return {"revision": self.data.revision, "dirty": self.dirty, "case": asdict(self.case),
                "job": asdict(self.job) if self.job else None, "autosave_s": self.autosave_s}

    # -- data ---------------------------------------------------------------------------

    async def change(self, name: str, changes: Sequence[tuple[Sequence[str], Any]]) -> None:
        """Change cells of a parameter; raises DataError (nothing changed then)."""
        async with self._lock:
            before = self.data.revision
            self.data.change(name, changes)
            if self.data.revision != before:
                await self._announce([name])

    async def replace_identifier(self, name: str, value: Any) -> None:
        async with self._lock:
            before = self.data.revision
            self.data.replace_identifier(name, value)
            if self.data.revision != before:
                await self._announce(list(self.data.app.identifiers))

    async def _announce(self, names: list[str]) -> None:
        await self.hub.broadcast({"type": "data_changed", "identifiers": names,
                                  "revision": self.data.revision, "dirty": self.dirty})

    # -- procedures and jobs --------------------------------------------------------------

    async def run_procedure(self, name: str) -> dict[str, Any]:
        """Run a session procedure here, or submit a solve procedure as a job.
        Raises UnknownProcedure, DataError, Busy, PlatformError."""
        decl = self.loaded.app.get_procedure(name)
        if decl.kind == "solve":
            return {"job": asdict(await self.submit(name))}
        async with self._lock:
            outputs = await asyncio.to_thread(
                run, self.loaded.app, name, self.data.inputs,
                on_log=lambda line: self.platform.log(line, "app"))
            changed = self.data.take_outputs(outputs)
            if changed:
                await self._announce(changed)
        return {"changed": changed, "revision": self.data.revision}

    async def submit(self, procedure: str) -> JobStatus:
        """Submit a job of ``procedure`` on the current inputs; one job at a time."""
        async with self._submitting:
            if self.job is not None and not self.job.over:
                raise Busy(f"job {self.job.job_id} of {self.job.procedure} is still "
                           f"{self.job.state}")
            async with self._lock:
                content = encode_content(self.data.case_bytes(inputs_only=True))
            submitted = await self.platform.submit_job(
                SubmitJobParams(procedure=procedure, content=content, options={}))
            self.job = JobStatus(submitted.job_id, procedure)
        await self._job_changed()
        for early in self._early.pop(submitted.job_id, []):  # news that beat the reply
            await self.on_job(early)
        self._early.clear()
        return self.job

    async def on_job(self, event: JobEvent) -> None:
        """Job news from the host; a success loads the result into the session."""
        job = self.job
        if job is None or job.job_id != event.job_id:
            held = self._early.get(event.job_id, [])
            if len(self._early) < MAX_EARLY_JOBS and len(held) < MAX_EARLY_JOBS * 8:
                self._early[event.job_id] = [*held, event]
            return
        job.state, job.message = event.state, event.message
        job.progress = event.progress if event.progress is not None else job.progress
        job.incumbent = event.incumbent if event.incumbent is not None else job.incumbent
        await self._job_changed()
        if event.state == "succeeded":
            await self._load_result(job)

    async def _load_result(self, job: JobStatus) -> None:
        try:
            fetched = await self.platform.fetch_result(job.job_id)
            results = load_case(self.loaded.app, decode_content(fetched.content))
            async with self._lock:
                changed = self.data.load_results(results)
                if changed:
                    await self._announce(changed)
            job.loaded = True
        except Exception as exc:  # any failure is shown on the page, the data unchanged
            job.error = f"the result could not be loaded: {exc}"
        await self._job_changed()

    async def _job_changed(self) -> None:
        if self.job is not None:
            await self.hub.broadcast({"type": "job", **asdict(self.job)})

    async def cancel_job(self) -> dict[str, Any]:
        if self.job is None:
            raise Busy("no job to cancel")
        return (await self.platform.cancel_job(self.job.job_id)).model_dump()

    # -- cases --------------------------------------------------------------------------

    async def save(self, name: str | None = None, *, new: bool = False) -> CaseRef:
        """Save to the current case, or (``new`` or none yet) as a new case ``name``."""
        case_id = None if new else self.case.case_id
        name = name or self.case.name
        if not name:
            raise PlatformError("invalid", "the case has no name yet: use Save as")
        async with self._lock:
            revision = self.data.revision
            content = encode_content(self.data.case_bytes())
        saved = await self.platform.save_case(
            SaveCaseParams(name=name, content=content, case_id=case_id))
        self.case = CaseRef(saved.case_id, saved.name)
        self._saved_revision = revision
        await self.hub.broadcast({"type": "case", **self.status()})
        return self.case

    async def open(self, case_id: str) -> list[str]:
        """Replace the data by a platform case's; raises PlatformError, CaseError, DataError."""
        opened = await self.platform.open_case(case_id)
        changed = await self.load_bytes(decode_content(opened.content))
        self.case = CaseRef(opened.case_id, opened.name)
        self._saved_revision = self.data.revision
        await self.hub.broadcast({"type": "case", **self.status()})
        return changed

    async def load_bytes(self, content: bytes) -> list[str]:
        """Replace the data by a case file's; raises CaseError, DataError."""
        async with self._lock:
            changed = self.data.open_case(content)
            if changed:
                await self._announce(changed)
        return changed

    async def autosave(self) -> bool:
        """Save to the autosave case when something changed since the last autosave; True
        when saved (or nothing to save). Failures are reported, never raised."""
        if not self.needs_autosave:
            return True
        async with self._lock:
            revision = self.data.revision
            content = encode_content(self.data.case_bytes())
        try:
            saved = await self.platform.save_case(SaveCaseParams(
                name=AUTOSAVE_NAME, autosave=True, content=content,
                case_id=self.autosave_case_id))
        except PlatformError as exc:
            await self.hub.broadcast({"type": "notice", "level": "warning",
                                      "message": f"autosave failed: {exc.message}"})
            return False
        self.autosave_case_id = saved.case_id
        self._autosaved_revision = revision
        await self.hub.broadcast({"type": "autosaved", "case_id": saved.case_id})
        return True

    async def autosave_loop(self) -> None:
        """Autosave every ``autosave_s`` seconds until cancelled (0: never)."""
        if self.autosave_s <= 0:
            return
        while True:
            await asyncio.sleep(self.autosave_s)
            with contextlib.suppress(Exception):
                await self.autosave()

    async def notice(self, message: str, level: str = "info") -> None:
        await self.hub.broadcast({"type": "notice", "message": message, "level": level})
