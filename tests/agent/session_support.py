"""A running session agent for tests: the test-side host plus an HTTP client on its port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.agent.session_host import SessionHost
from tests.agent.support import EXAMPLES

BASE = "/s/test-session/"


@dataclass
class Live:
    """A session under test: the host and ``url(path)`` under the base path."""

    host: SessionHost
    port: int
    http: aiohttp.ClientSession

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{BASE}{path}"

    async def call(self, method: str, path: str, body: Any = None,
                   **kwargs: Any) -> tuple[int, Any]:
        if body is not None:
            kwargs["json"] = body
        async with self.http.request(method, self.url(path), **kwargs) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text else None)

    async def value(self, name: str) -> Any:
        status, found = await self.call("GET", f"api/data/{name}")
        assert status == 200, found
        return found["value"]


@asynccontextmanager
async def running(app: str = "transport", **start: Any) -> AsyncIterator[Live]:
    host = SessionHost()
    try:
        ready = await host.start(EXAMPLES / app if "/" not in app else Path(app),
                                 base_path=BASE, **start)
        async with aiohttp.ClientSession() as http:
            yield Live(host, ready.port, http)
    finally:
        await host.close()


async def next_ws(socket: aiohttp.ClientWebSocketResponse, kind: str,
                  timeout_s: float = 30.0, **match: Any) -> dict[str, Any]:
    """The next WebSocket message of ``type`` ``kind`` (any type for "") whose fields
    match ``match``."""
    async def find() -> dict[str, Any]:
        async for message in socket:
            data = json.loads(message.data)
            if kind in ("", data.get("type")) and all(data.get(k) == v for k, v in match.items()):
                return dict(data)
        raise AssertionError(f"the WebSocket closed before a {kind!r} message")
    return await asyncio.wait_for(find(), timeout_s)
