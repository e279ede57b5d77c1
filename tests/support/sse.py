"""Reading a ``text/event-stream`` response in tests: one event at a time, with a deadline."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Sse:
    event: str
    data: str
    id: str | None = None

    @property
    def json(self) -> Any:
        return json.loads(self.data)


class SseReader:
    """Parses server-sent events off an open aiohttp response."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.seen: list[Sse] = []

    async def next(self, timeout_s: float = 15.0) -> Sse:
        """The next event (comments and bare ``retry:`` skipped); TimeoutError after
        ``timeout_s``; EOFError when the stream ended."""
        return await asyncio.wait_for(self._read_event(), timeout_s)

    async def until(self, event: str, timeout_s: float = 15.0, **match: Any) -> Sse:
        """Read on until an event named ``event`` whose JSON data has the ``match`` fields."""
        async def scan() -> Sse:
            while True:
                found = await self._read_event()
                if found.event == event and all(found.json.get(k) == v for k, v in match.items()):
                    return found
        return await asyncio.wait_for(scan(), timeout_s)

    async def _read_event(self) -> Sse:
        fields: dict[str, list[str]] = {}
        while True:
            raw = await self.response.content.readline()
            if not raw:
                raise EOFError("the event stream ended")
            line = raw.decode().rstrip("\r\n")
            if not line:
                if "data" in fields:
                    ids = fields.get("id", [])
                    event = Sse(fields.get("event", ["message"])[0], "\n".join(fields["data"]),
                                ids[0] if ids else None)
                    self.seen.append(event)
                    return event
                fields = {}
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value.removeprefix(" "))
