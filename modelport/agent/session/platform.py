"""What a session asks of the platform, independent of how it reaches it.

In a container the requests travel over the control channel (``channel.ControlChannel``); on
a desktop they go to the portal's REST API (``modelport.cli.desktop``). Both implement
``Platform.call`` for the methods of ``session_protocol.METHODS`` and hand job news to the
``on_job`` callback.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from modelport.agent.session_protocol import (
    CancelJobParams,
    CancelJobResult,
    FetchResultParams,
    FetchResultResult,
    JobEvent,
    ListCasesParams,
    ListCasesResult,
    OpenCaseParams,
    OpenCaseResult,
    SaveCaseParams,
    SaveCaseResult,
    SubmitJobParams,
    SubmitJobResult,
    parse_result,
)

JobListener = Callable[[JobEvent], Awaitable[None]]


class PlatformError(Exception):
    """The platform refused or could not answer; ``code`` as in a reply's error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class Platform:
    """Base of the two ways to reach the platform; subclasses implement ``call``."""

    def __init__(self) -> None:
        self.on_job: JobListener | None = None

    async def call(self, method: str, params: BaseModel) -> dict[str, Any]:
        """Send request ``method``; the raw result. Raises PlatformError."""
        raise NotImplementedError

    def log(self, line: str, source: str = "agent") -> None:
        """A line for the session's log (here: stderr; the channel sends it to the host)."""
        print(f"[{source}] {line}", file=sys.stderr)

    async def close(self) -> None:
        """Release what the platform holds (connections, followers)."""

    async def job_event(self, event: JobEvent) -> None:
        """Pass job news on to the session."""
        if self.on_job is not None:
            await self.on_job(event)

    async def _typed(self, method: str, params: BaseModel) -> Any:
        raw = await self.call(method, params)
        try:
            return parse_result(method, raw)
        except ValidationError as exc:
            raise PlatformError("internal", f"{method}: malformed result: {exc}") from None

    async def save_case(self, params: SaveCaseParams) -> SaveCaseResult:
        result: SaveCaseResult = await self._typed("save_case", params)
        return result

    async def open_case(self, case_id: str) -> OpenCaseResult:
        result: OpenCaseResult = await self._typed("open_case", OpenCaseParams(case_id=case_id))
        return result

    async def list_cases(self) -> ListCasesResult:
        result: ListCasesResult = await self._typed("list_cases", ListCasesParams())
        return result

    async def submit_job(self, params: SubmitJobParams) -> SubmitJobResult:
        result: SubmitJobResult = await self._typed("submit_job", params)
        return result

    async def fetch_result(self, job_id: str) -> FetchResultResult:
        result: FetchResultResult = await self._typed(
            "fetch_result", FetchResultParams(job_id=job_id))
        return result

    async def cancel_job(self, job_id: str) -> CancelJobResult:
        result: CancelJobResult = await self._typed("cancel_job", CancelJobParams(job_id=job_id))
        return result
