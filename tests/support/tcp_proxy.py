"""A TCP proxy for tests that cut a connection: a broker or database "going away" and back.

    async with TcpProxy("127.0.0.1", 5672) as proxy:
        url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/"
        ...
        await proxy.cut()      # live connections drop, new ones are refused
        await proxy.restore()  # new connections are accepted again, on the same port
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import structlog

log = structlog.get_logger(__name__)


class TcpProxy:
    """Forwards ``host:port`` (a free loopback port by default) to ``target_host:target_port``."""

    def __init__(
        self, target_host: str, target_port: int, *, host: str = "127.0.0.1", port: int = 0
    ):
        self.target = (target_host, target_port)
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._generation = 0  # bumped by each cut; a link opened across a cut is dropped
        self.accepted = 0  # connections forwarded since start, for tests to assert on

    @property
    def connections(self) -> int:
        """Connections forwarded right now."""
        return len(self._links)

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen; the first call picks the port, later calls (after :meth:`cut`) reuse it."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._on_client, self.host, self.port, reuse_address=True
        )
        sock: socket.socket = self._server.sockets[0]
        self.port = sock.getsockname()[1]

    async def cut(self) -> None:
        """Stop listening (new connections are refused) and drop every live connection."""
        self._generation += 1
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._wait_links()
        if server is not None:
            await server.wait_closed()
        log.debug("tcp_proxy_cut", port=self.port)

    async def restore(self) -> None:
        """Accept connections again on the same port."""
        await self.start()
        log.debug("tcp_proxy_restored", port=self.port)

    async def stop(self) -> None:
        await self.cut()

    async def _wait_links(self) -> None:
        if self._links:
            await asyncio.gather(*self._links, return_exceptions=True)

    async def _on_client(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        generation = self._generation
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.transport.abort()
            return
        if generation != self._generation or self._server is None:  # cut while connecting
            client_w.transport.abort()
            upstream_w.transport.abort()
            return
        self.accepted += 1
        link = asyncio.current_task()
        assert link is not None
        self._links.add(link)
        self._writers.update((client_w, upstream_w))
        try:
            await asyncio.gather(_pipe(client_r, upstream_w), _pipe(upstream_r, client_w))
        finally:
            for writer in (client_w, upstream_w):
                self._writers.discard(writer)
                writer.transport.abort()
            self._links.discard(link)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF, then half-close the other side; a reset ends the copy quietly."""
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof() and not writer.transport.is_closing():
            writer.write_eof()
