"""Solve jobs through the portal's REST API: submit, list, show, cancel, logs, live follow and
result download, on top of a :class:`~modelport.client.portal.PortalClient`.

Use as ``Jobs(portal).submit("transport")`` inside ``async with PortalClient(...) as portal``.
Errors are the portal client's (ApiError, PortalUnreachable, ChecksumMismatch).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from common.contracts.jobs import TERMINAL_STATES
from modelport.client.errors import ClientError, PortalUnreachable
from modelport.client.portal import PortalClient
from modelport.client.transfer import Progress

Json = dict[str, Any]
TERMINAL = TERMINAL_STATES  # the job contract's, so client and platform agree
LIST_PAGE = 500
IDEMPOTENCY_HEADER = "Idempotency-Key"
SUBMIT_RETRIES = 2  # a submit that found the portal unreachable is sent again, same key


@dataclass(frozen=True)
class StreamEvent:
    """One server-sent event of a followed job: ``state``, ``started``, ``progress``, a
    terminal state's name, ``log`` (a stored log line) or ``end``."""

    name: str
    data: Json


class Jobs:
    def __init__(self, portal: PortalClient) -> None:
        self._portal = portal

    async def submit(self, app: str, *, idempotency_key: str | None = None,
                     **fields: Any) -> Json:
        """Queue a job of ``app`` (fields as in ``POST /api/v1/jobs``, None left out).

        Sent with an ``Idempotency-Key`` (``idempotency_key``, else a fresh one), so the up
        to ``SUBMIT_RETRIES`` retries after an unreachable portal (or a caller's own retry with the
        same key) give the job of the first try, never a second job."""
        retries = SUBMIT_RETRIES
        body = {"app": app, **{k: v for k, v in fields.items() if v is not None}}
        headers = {IDEMPOTENCY_HEADER: idempotency_key or uuid.uuid4().hex}
        for attempt in range(retries + 1):
            try:
                return await self._portal._json("POST", "/jobs", json=body, headers=headers)
            except PortalUnreachable:
                if attempt == retries:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    async def list(self, *, state: str | None = None, app: str | None = None) -> list[Json]:
        """Your jobs (everyone's for an admin), newest first, up to one page of 500."""
        params = {"limit": str(LIST_PAGE)} | {k: v for k, v in
                                               (("state", state), ("app", app)) if v}
        page = await self._portal._json("GET", "/jobs", params=params)
        jobs = page.get("jobs", [])
        return [j for j in jobs if isinstance(j, dict)] if isinstance(jobs, list) else []

    async def get(self, job_id: str) -> Json:
        return await self._portal._json("GET", f"/jobs/{_seg(job_id)}")

    async def cancel(self, job_id: str) -> Json:
        return await self._portal._json("POST", f"/jobs/{_seg(job_id)}/cancel")

    async def log(self, job_id: str) -> str:
        """The stored log of a finished job."""
        async with self._portal._request("GET", f"/jobs/{_seg(job_id)}/log") as response:
            return await response.text(errors="replace")

    async def follow(self, job_id: str) -> AsyncIterator[StreamEvent]:
        """The job's events as they happen, until ``end`` (the job is over)."""
        path = f"/jobs/{_seg(job_id)}/log"
        async with self._portal._request("GET", path, params={"follow": "1"}) as response:
            name, data = "message", ""
            async for raw in response.content:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif not line and data:
                    yield StreamEvent(name, _object(data))
                    if name == "end":
                        return
                    name, data = "message", ""
        raise ClientError(f"{self._portal.url}: the event stream ended before the job did")

    async def download_result(self, job_id: str, dest: Path,
                              progress: Progress | None = None) -> str:
        """Save the result case of a succeeded job to ``dest``, checked against its sha256."""
        return await self._portal.download(f"/jobs/{_seg(job_id)}/result", dest, progress)


def _object(data: str) -> Json:
    try:
        found = json.loads(data)
    except json.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


def _seg(value: str) -> str:
    return quote(value, safe="")
