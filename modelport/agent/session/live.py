"""Live updates to every open page over WebSockets: job progress, data changed, notices."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

SEND_TIMEOUT_S = 5.0


class LiveHub:
    """The open WebSockets of a session; ``broadcast`` sends one message to each."""

    def __init__(self) -> None:
        self._sockets: set[web.WebSocketResponse] = set()

    def __len__(self) -> int:
        return len(self._sockets)

    def add(self, socket: web.WebSocketResponse) -> None:
        self._sockets.add(socket)

    def discard(self, socket: web.WebSocketResponse) -> None:
        self._sockets.discard(socket)

    async def broadcast(self, message: dict[str, Any]) -> None:
        """Send ``message`` to every socket; a socket that fails or stalls is dropped."""
        text = json.dumps(message)
        for socket in list(self._sockets):
            try:
                await asyncio.wait_for(socket.send_str(text), SEND_TIMEOUT_S)
            except (ConnectionError, RuntimeError, TimeoutError):
                self._sockets.discard(socket)

    async def close_all(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        self._sockets.clear()
